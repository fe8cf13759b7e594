import java.util.logging.Level;
import java.util.logging.Logger;

// Gen throws or logs one exception, as the first argument says, so that each run prints one
// trace the way the JVM and its standard library print it.
public class Gen {
    static class Repository {
        String load(String id) {
            try {
                return Integer.toString(Integer.parseInt(id));
            } catch (NumberFormatException e) {
                throw new IllegalStateException("cannot load record " + id, e);
            }
        }
    }

    static class Service {
        final Repository repo = new Repository();

        String handle(String id) {
            try {
                return repo.load(id);
            } catch (IllegalStateException e) {
                RuntimeException r = new RuntimeException("request failed", e);
                r.addSuppressed(new java.io.IOException("connection reset while closing"));
                throw r;
            }
        }
    }

    public static void main(String[] args) throws Exception {
        Service s = new Service();
        switch (args[0]) {
            case "uncaught":
                s.handle("x42");
                break;
            case "printstacktrace":
                try {
                    s.handle("x42");
                } catch (RuntimeException e) {
                    System.err.println("ERROR worker-3 failed to handle request 17");
                    e.printStackTrace();
                }
                break;
            case "jul":
                try {
                    s.handle("x42");
                } catch (RuntimeException e) {
                    Logger.getLogger("com.example.Gen").log(Level.SEVERE, "request 17 failed", e);
                }
                break;
            case "multiline-message":
                throw new IllegalArgumentException("invalid configuration:\n  port: not a number\n  host: empty");
            case "thread":
                Thread t = new Thread(() -> { Object o = null; o.hashCode(); }, "worker-1");
                t.start();
                t.join();
                break;
            default:
                throw new IllegalArgumentException("unknown mode " + args[0]);
        }
    }
}
