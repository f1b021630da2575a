import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.CreateTopicsOptions;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Asks the local-stack Kafka broker real questions; exit status 0 when it answered them.
 *
 * <pre>
 *   KafkaProbe BOOTSTRAP             readiness: the cluster is described, the controller
 *                                    accepts a (validate-only) topic creation, topics list
 *   KafkaProbe BOOTSTRAP roundtrip   creates topic sluice-probe-roundtrip, produces one record
 *                                    (acks=all, idempotent), reads it back and commits the
 *                                    offset in a consumer group
 *   KafkaProbe BOOTSTRAP topics PREFIX   prints "topic records" for each topic whose name
 *                                    starts with PREFIX (records = sum of end offsets)
 *   KafkaProbe BOOTSTRAP delete-topics PREFIX   deletes the topics whose name starts with PREFIX
 * </pre>
 *
 * Readiness creates nothing: a validate-only CreateTopics still goes through the controller,
 * which checks that the broker is registered and unfenced, so it fails until the broker
 * could really create the topic. Exit status 1 means "not ready" (the reason goes to stderr),
 * 2 a usage error.
 */
public final class KafkaProbe {
    private static final long READY_TIMEOUT_MS = 4_000;
    private static final long ROUNDTRIP_TIMEOUT_MS = 30_000;
    private static final String READY_TOPIC = "sluice-probe-ready";
    private static final String ROUNDTRIP_TOPIC = "sluice-probe-roundtrip";

    public static void main(String[] args) {
        boolean usage = args.length == 1
                || (args.length == 2 && args[1].equals("roundtrip"))
                || (args.length == 3 && (args[1].equals("topics") || args[1].equals("delete-topics")));
        if (!usage) {
            System.err.println("usage: KafkaProbe BOOTSTRAP [roundtrip | topics PREFIX | delete-topics PREFIX]");
            System.exit(2);
        }
        String bootstrap = args[0];
        try {
            if (args.length == 1) {
                ready(bootstrap);
            } else if (args.length == 2) {
                roundtrip(bootstrap);
            } else if (args[1].equals("topics")) {
                topics(bootstrap, args[2]);
            } else {
                deleteTopics(bootstrap, args[2]);
            }
            System.exit(0);
        } catch (Exception e) {
            Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
            System.err.println("kafka probe failed: " + cause);
            System.exit(1);
        }
    }

    private static void ready(String bootstrap) throws Exception {
        try (Admin admin = Admin.create(clientProps(bootstrap, READY_TIMEOUT_MS))) {
            DescribeClusterResult cluster = admin.describeCluster();
            String clusterId = cluster.clusterId().get(READY_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            List<Node> nodes = List.copyOf(cluster.nodes().get(READY_TIMEOUT_MS, TimeUnit.MILLISECONDS));
            if (clusterId == null || nodes.isEmpty()) {
                throw new IllegalStateException("no cluster id or no live broker yet");
            }
            admin.createTopics(
                            List.of(new NewTopic(READY_TOPIC, 1, (short) 1)),
                            new CreateTopicsOptions().validateOnly(true).timeoutMs((int) READY_TIMEOUT_MS))
                    .all()
                    .get(READY_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            Set<String> topics = admin.listTopics().names().get(READY_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            System.out.println("cluster " + clusterId + ", brokers " + nodes.size() + ", topics " + topics.size());
        }
    }

    private static void topics(String bootstrap, String prefix) throws Exception {
        try (Admin admin = Admin.create(clientProps(bootstrap, ROUNDTRIP_TIMEOUT_MS))) {
            List<String> names = admin.listTopics().names().get(ROUNDTRIP_TIMEOUT_MS, TimeUnit.MILLISECONDS)
                    .stream().filter(n -> n.startsWith(prefix)).sorted().toList();
            Map<String, org.apache.kafka.clients.admin.TopicDescription> descriptions =
                    admin.describeTopics(names).allTopicNames().get(ROUNDTRIP_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            Map<org.apache.kafka.common.TopicPartition, org.apache.kafka.clients.admin.OffsetSpec> latest =
                    new java.util.HashMap<>();
            descriptions.forEach((name, description) -> description.partitions().forEach(p ->
                    latest.put(new org.apache.kafka.common.TopicPartition(name, p.partition()),
                            org.apache.kafka.clients.admin.OffsetSpec.latest())));
            Map<org.apache.kafka.common.TopicPartition, Long> ends = new java.util.TreeMap<>(
                    java.util.Comparator.comparing(org.apache.kafka.common.TopicPartition::toString));
            admin.listOffsets(latest).all().get(ROUNDTRIP_TIMEOUT_MS, TimeUnit.MILLISECONDS)
                    .forEach((tp, info) -> ends.put(tp, info.offset()));
            for (String name : names) {
                long records = ends.entrySet().stream()
                        .filter(e -> e.getKey().topic().equals(name))
                        .mapToLong(Map.Entry::getValue).sum();
                System.out.println(name + " " + records);
            }
        }
    }

    private static void deleteTopics(String bootstrap, String prefix) throws Exception {
        try (Admin admin = Admin.create(clientProps(bootstrap, ROUNDTRIP_TIMEOUT_MS))) {
            List<String> names = admin.listTopics().names().get(ROUNDTRIP_TIMEOUT_MS, TimeUnit.MILLISECONDS)
                    .stream().filter(n -> n.startsWith(prefix)).toList();
            admin.deleteTopics(names).all().get(ROUNDTRIP_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            System.out.println("deleted " + names.size() + " topics");
        }
    }

    private static void roundtrip(String bootstrap) throws Exception {
        Properties common = clientProps(bootstrap, ROUNDTRIP_TIMEOUT_MS);
        try (Admin admin = Admin.create(common)) {
            try {
                admin.createTopics(List.of(new NewTopic(ROUNDTRIP_TOPIC, 1, (short) 1)))
                        .all()
                        .get(ROUNDTRIP_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof TopicExistsException)) {
                    throw e;
                }
            }
        }

        String value = "probe-" + UUID.randomUUID();
        Properties producerProps = new Properties();
        producerProps.putAll(common);
        producerProps.put(ProducerConfig.ACKS_CONFIG, "all");
        producerProps.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        producerProps.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) ROUNDTRIP_TIMEOUT_MS);
        producerProps.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, ROUNDTRIP_TIMEOUT_MS);
        RecordMetadata written;
        try (KafkaProducer<String, String> producer =
                new KafkaProducer<>(producerProps, new StringSerializer(), new StringSerializer())) {
            written = producer.send(new ProducerRecord<>(ROUNDTRIP_TOPIC, "key", value))
                    .get(ROUNDTRIP_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        }

        Properties consumerProps = new Properties();
        consumerProps.putAll(common);
        consumerProps.put(ConsumerConfig.GROUP_ID_CONFIG, "sluice-probe");
        consumerProps.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        TopicPartition tp = new TopicPartition(written.topic(), written.partition());
        try (KafkaConsumer<String, String> consumer =
                new KafkaConsumer<>(consumerProps, new StringDeserializer(), new StringDeserializer())) {
            consumer.assign(List.of(tp));
            consumer.seek(tp, written.offset());
            long deadline = System.currentTimeMillis() + ROUNDTRIP_TIMEOUT_MS;
            while (System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(500))) {
                    if (record.offset() == written.offset()) {
                        if (!value.equals(record.value())) {
                            throw new IllegalStateException("read back " + record.value() + ", wrote " + value);
                        }
                        consumer.commitSync(
                                Map.of(tp, new OffsetAndMetadata(record.offset() + 1)),
                                Duration.ofMillis(ROUNDTRIP_TIMEOUT_MS));
                        System.out.println("produced and consumed " + tp + "@" + record.offset()
                                + ", committed offset " + (record.offset() + 1) + " for group sluice-probe");
                        return;
                    }
                }
            }
            throw new IllegalStateException("record " + tp + "@" + written.offset() + " not read back in time");
        }
    }

    /** Short timeouts and fast reconnects, so a down broker fails the probe within seconds. */
    private static Properties clientProps(String bootstrap, long timeoutMs) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "sluice-probe");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) Math.min(timeoutMs, 3_000));
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) timeoutMs);
        p.put(AdminClientConfig.SOCKET_CONNECTION_SETUP_TIMEOUT_MS_CONFIG, 1_000L);
        p.put(AdminClientConfig.SOCKET_CONNECTION_SETUP_TIMEOUT_MAX_MS_CONFIG, 2_000L);
        p.put(AdminClientConfig.RECONNECT_BACKOFF_MS_CONFIG, 100L);
        p.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 500L);
        p.put(AdminClientConfig.RETRY_BACKOFF_MS_CONFIG, 100L);
        return p;
    }
}
