import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.config.Configurator;
import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.index.mapper.MapperExtrasPlugin;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * A single OpenSearch node for the local stack (deploy/local/opensearch.sh), started from
 * the jars on Maven Central instead of the distribution tarball.
 *
 * <p>Usage: {@code java ... SluiceOpenSearch key=value...}, each argument one node setting
 * (like {@code -E} of bin/opensearch); {@code path.home} is required and its {@code config/}
 * folder must hold {@code log4j2.properties}. The modules a distribution loads from
 * {@code modules/} are passed to the node as classpath plugins instead. The node runs until
 * the JVM is told to stop (SIGTERM/SIGINT), when a shutdown hook closes it cleanly.
 */
public final class SluiceOpenSearch {

    /** The modules this node loads; their jars are listed in ../pom.xml. */
    static final List<Class<? extends Plugin>> PLUGINS = Arrays.asList(
            Netty4Plugin.class,          // transport-netty4: the HTTP and transport layers
            CommonAnalysisPlugin.class,  // analysis-common: english, asciifolding, ...
            ReindexPlugin.class,         // reindex: _reindex, _delete_by_query, _update_by_query
            MapperExtrasPlugin.class,    // mapper-extras: scaled_float, search_as_you_type, ...
            PainlessPlugin.class);       // lang-painless: scripts

    /** Node has a protected constructor for classpath plugins; this opens it. */
    static final class EmbeddedNode extends Node {
        EmbeddedNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
            super(environment, plugins, true);
        }
    }

    public static void main(String[] args) throws Exception {
        Settings.Builder builder = Settings.builder();
        for (String arg : args) {
            int eq = arg.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("expected key=value, got: " + arg);
            }
            builder.put(arg.substring(0, eq), arg.substring(eq + 1));
        }
        Settings settings = builder.build();
        String home = settings.get("path.home");
        if (home == null) {
            throw new IllegalArgumentException("path.home=... is required");
        }
        Path homeDir = Paths.get(home).toAbsolutePath();
        Path configDir = homeDir.resolve("config");
        // PluginsService lists these folders; they stay empty.
        Files.createDirectories(homeDir.resolve("modules"));
        Files.createDirectories(homeDir.resolve("plugins"));

        String nodeName = settings.get("node.name", "sluice");
        Environment environment = InternalSettingsPreparer.prepareEnvironment(
                settings, Collections.emptyMap(), configDir, () -> nodeName);

        LogConfigurator.registerErrorListener();
        LogConfigurator.setNodeName(nodeName);
        LogConfigurator.configure(environment);
        Logger logger = LogManager.getLogger(SluiceOpenSearch.class);

        Node node = new EmbeddedNode(environment, PLUGINS);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                logger.info("stopping the node");
                node.close();
                if (!node.awaitClose(30, TimeUnit.SECONDS)) {
                    logger.warn("the node did not close within 30s");
                }
                logger.info("node stopped");
            } catch (Throwable e) {
                logger.error("failed to stop the node", e);
            } finally {
                stopped.countDown();
                // log4j's own shutdown hook is off (-Dlog4j.shutdownHookEnabled=false) so the
                // lines above are still written; flush and stop it last.
                Configurator.shutdown((LoggerContext) LogManager.getContext(false));
            }
        }, "sluice-opensearch-shutdown"));

        try {
            node.start();
        } catch (Throwable e) {
            logger.error("the node failed to start", e);
            // Runs the shutdown hook, which closes what was started.
            System.exit(1);
        }
        logger.info("node started: http on {}", settings.get("http.port", "9200"));
        // Keep the JVM alive until the shutdown hook has closed the node.
        stopped.await();
    }
}
