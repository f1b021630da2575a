import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.io.ByteUnit;
import org.neo4j.logging.Level;
import org.neo4j.logging.log4j.Log4jLogProvider;

/**
 * The local stack's Neo4j: Neo4j 5.26 Community embedded, with its Bolt connector on one
 * loopback port and no authentication. Started by deploy/local/neo4j.sh as
 *
 *   java ... SluiceNeo4j HOME HOST PORT
 *
 * HOME holds the databases (data/), transaction logs and debug.log (logs/). The user log
 * goes to stdout. SIGTERM shuts the databases down cleanly, then the JVM exits.
 */
public final class SluiceNeo4j {
    public static void main(String[] args) {
        if (args.length != 3) {
            System.err.println("usage: SluiceNeo4j HOME HOST PORT");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        SocketAddress bolt = new SocketAddress(args[1], Integer.parseInt(args[2]));
        long pageCacheMb = Long.getLong("sluice.neo4j.pagecache.mb", 96);
        long txMemoryMb = Long.getLong("sluice.neo4j.tx.memory.mb", 256);

        long t0 = System.nanoTime();
        System.out.println("sluice-neo4j: starting Neo4j in " + home + ", Bolt on " + bolt);
        DatabaseManagementService dbms;
        try {
            dbms = new DatabaseManagementServiceBuilder(home)
                    .setUserLogProvider(new Log4jLogProvider(System.out, Level.INFO))
                    .setConfig(BoltConnector.enabled, true)
                    .setConfig(BoltConnector.listen_address, bolt)
                    .setConfig(BoltConnector.advertised_address, bolt)
                    .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                    .setConfig(BoltConnector.thread_pool_max_size, 50)
                    .setConfig(GraphDatabaseSettings.auth_enabled, false)
                    .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(pageCacheMb))
                    .setConfig(GraphDatabaseSettings.pagecache_warmup_enabled, false)
                    .setConfig(GraphDatabaseSettings.memory_transaction_global_max_size,
                            ByteUnit.mebiBytes(txMemoryMb))
                    .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                    .setConfig(GraphDatabaseSettings.keep_logical_logs, "keep_none")
                    .setConfig(GraphDatabaseSettings.udc_enabled, false)
                    .setConfig(GraphDatabaseSettings.shutdown_transaction_end_timeout, Duration.ofSeconds(5))
                    // Internal settings (checked by javac, not a stable API): no in-JVM
                    // "bolt-local" connector, and no 5 s Netty quiet period per event loop
                    // group on shutdown, which otherwise makes every stop take 10 s or more.
                    .setConfig(BoltConnectorInternalSettings.enable_local_connector, false)
                    .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
                    .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_timeout, Duration.ofSeconds(5))
                    .build();
        } catch (Throwable e) {
            System.err.println("sluice-neo4j: start-up failed: " + e);
            e.printStackTrace();
            System.exit(1);
            return;
        }

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("sluice-neo4j: shutting down");
            try {
                dbms.shutdown();
                System.out.println("sluice-neo4j: stopped");
            } catch (Throwable e) {
                System.err.println("sluice-neo4j: shutdown failed: " + e);
            } finally {
                stopped.countDown();
            }
        }, "sluice-neo4j-shutdown"));

        System.out.printf("sluice-neo4j: ready in %.1fs, Bolt on bolt://%s (auth disabled)%n",
                (System.nanoTime() - t0) / 1e9, bolt);
        System.out.flush();
        try {
            stopped.await(); // keep the JVM alive until SIGTERM/SIGINT runs the hook
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
