import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.TopicPartition;

/**
 * Kafka helpers for the source benchmarks, built against the local stack's kafka-clients.
 *
 *   BenchKafka count BOOTSTRAP TOPIC TARGET TIMEOUT_SECONDS
 *       polls the sum of TOPIC's end offsets (records the broker acknowledged) every 50 ms;
 *       prints "reached <epoch seconds>" once it is at least TARGET (exit 0), or exits 1
 *       after TIMEOUT_SECONDS. A topic that does not exist yet counts 0.
 *   BenchKafka delete BOOTSTRAP PREFIX...
 *       deletes every topic whose name starts with one of the prefixes.
 */
public final class BenchKafka {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[1]);
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        try (Admin admin = Admin.create(props)) {
            if (args[0].equals("count")) {
                System.exit(count(admin, args[2], Long.parseLong(args[3]), Long.parseLong(args[4])));
            } else if (args[0].equals("delete")) {
                List<String> prefixes = List.of(args).subList(2, args.length);
                Set<String> names = admin.listTopics(new ListTopicsOptions().listInternal(false)).names().get();
                List<String> doomed = names.stream()
                        .filter(n -> prefixes.stream().anyMatch(n::startsWith))
                        .collect(Collectors.toList());
                if (!doomed.isEmpty()) {
                    admin.deleteTopics(doomed).all().get();
                }
                System.out.println("deleted " + doomed.size() + " topics");
            } else {
                System.err.println("usage: BenchKafka count|delete ...");
                System.exit(2);
            }
        }
    }

    private static int count(Admin admin, String topic, long target, long timeoutSeconds) throws Exception {
        long deadline = System.nanoTime() + timeoutSeconds * 1_000_000_000L;
        List<TopicPartition> partitions = null;
        while (System.nanoTime() < deadline) {
            if (partitions == null) {
                try {
                    TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
                    partitions = new ArrayList<>();
                    for (var p : d.partitions()) {
                        partitions.add(new TopicPartition(topic, p.partition()));
                    }
                } catch (Exception e) {
                    partitions = null; // not created yet
                }
            }
            if (partitions != null) {
                Map<TopicPartition, OffsetSpec> request = new HashMap<>();
                for (TopicPartition tp : partitions) {
                    request.put(tp, OffsetSpec.latest());
                }
                long sum = 0;
                for (var info : admin.listOffsets(request).all().get().values()) {
                    sum += info.offset();
                }
                if (sum >= target) {
                    System.out.printf("reached %.3f %d%n", System.currentTimeMillis() / 1000.0, sum);
                    return 0;
                }
            }
            Thread.sleep(50);
        }
        System.out.println("timeout");
        return 1;
    }
}
