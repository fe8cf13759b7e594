import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * Runs one OpenSearch (2.x) or Elasticsearch (7.x) node in this JVM from the server jar on
 * the classpath, the way their own test framework's MockNode does: through Node's protected
 * constructor, given an Environment and the plugin classes on the classpath. Their bootstrap
 * is not used, so there are no bootstrap checks, no security manager and no native code; the
 * distributions' modules are absent except the plugins named here (the HTTP transport).
 *
 * Reflection only, so that one source serves org.opensearch and org.elasticsearch and
 * compiles without their jars.
 *
 * args: PACKAGE PATH_HOME PLUGINS [key=value ...]
 *   PACKAGE  org.opensearch | org.elasticsearch
 *   PLUGINS  comma-separated plugin class names
 */
public final class EmbeddedSearchNode {
    public static void main(String[] args) throws Throwable {
        try {
            run(args);
        } catch (InvocationTargetException e) {
            throw e.getCause(); // the node's own exception, not reflection's wrapper
        }
    }

    private static void run(String[] args) throws Throwable {
        if (args.length < 3) {
            System.err.println("usage: EmbeddedSearchNode PACKAGE PATH_HOME PLUGINS [key=value ...]");
            System.exit(2);
        }
        String pkg = args[0];
        Path home = Paths.get(args[1]).toAbsolutePath();
        ClassLoader cl = EmbeddedSearchNode.class.getClassLoader();
        // XContent extensions are found through ServiceLoader on the context class loader.
        Thread.currentThread().setContextClassLoader(cl);
        for (String d : new String[] {"config", "modules", "plugins"}) {
            Files.createDirectories(home.resolve(d));
        }

        Class<?> settingsClass = Class.forName(pkg + ".common.settings.Settings", true, cl);
        Object builder = settingsClass.getMethod("builder").invoke(null);
        Method put = builder.getClass().getMethod("put", String.class, String.class);
        put.invoke(builder, "path.home", home.toString());
        for (int i = 3; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("not key=value: " + args[i]);
            }
            put.invoke(builder, args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        Object settings = builder.getClass().getMethod("build").invoke(builder);

        Class<?> envClass = Class.forName(pkg + ".env.Environment", true, cl);
        Object env = envClass.getConstructor(settingsClass, Path.class).newInstance(settings, home.resolve("config"));

        List<Class<?>> plugins = new ArrayList<>();
        for (String name : args[2].split(",")) {
            if (!name.isBlank()) {
                plugins.add(Class.forName(name.trim(), false, cl));
            }
        }

        Class<?> nodeClass = Class.forName(pkg + ".node.Node", true, cl);
        Constructor<?> ctor = nodeClass.getDeclaredConstructor(envClass, Collection.class, boolean.class);
        ctor.setAccessible(true);
        // forbidPrivateIndexSettings = true: as in production
        Object node = ctor.newInstance(env, plugins, true);
        CountDownLatch stopped = new CountDownLatch(1);
        Method close = nodeClass.getMethod("close");
        // SIGTERM closes the node cleanly (kill -9 is what the crash tests use).
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                close.invoke(node);
            } catch (Throwable t) {
                t.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "search-node-shutdown"));
        nodeClass.getMethod("start").invoke(node);
        System.out.println("EmbeddedSearchNode: started " + pkg + " node, plugins " + plugins);
        stopped.await(); // the node's own threads are daemons: keep the JVM alive
    }
}
