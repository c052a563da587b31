package com.example.comms.e2e;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

import org.yaml.snakeyaml.Yaml;

import org.springframework.util.FileSystemUtils;

/**
 * comms and greeter, each with a real daprd sidecar, on free loopback ports: the request path of
 * the README on one machine, secured as in the cluster: the sidecars talk mTLS with certificates
 * from a real Sentry, and use the Dapr API token and the app API token. Sidecars and apps export
 * their telemetry over OTLP/HTTP to the given host:port: the test's receiver, or a collector in front of it.
 * Every sidecar loads the local run's resources as they are (scripts/local/resources: the resiliency
 * policies kubernetes/ deploys, and the greetings' Redis components, each applied to its scopes) against
 * a Redis of its own, persistent as in the local run.
 */
final class DaprStack implements AutoCloseable {

	private static final Duration START_TIMEOUT = Duration.ofSeconds(90);

	/** The deployment environment the apps are told they run in, as Datadog's env tag. */
	static final String ENVIRONMENT = "e2e";

	/** The sidecars' namespace, the cluster's, which the access-control policy names. */
	private static final String NAMESPACE = "dapr-services";

	private final String apiToken = randomToken();

	private final String appToken = randomToken();

	private final int sentryPort = freePort();

	private final int sentryHealthPort = freePort();

	private String trustAnchors;

	/** Where sidecars and apps send OTLP/HTTP. */
	private final String otlpHostPort;

	private final Path workDir;

	private final Path config;

	private final Path resources;

	/** scripts/local/resources, as the local run loads them. */
	private final Path localResources = required("e2e.localResources");

	private final int redisPort = freePort();

	/** Where comms' sidecar writes the receipts (the local-storage binding's RECEIPTS_DIR). */
	private final Path receipts;

	private ManagedProcess redis;

	private final Node comms = new Node("comms");

	private final Node greeter = new Node("greeter");

	private final Node intruder = new Node("intruder");

	private final List<ManagedProcess> running = new ArrayList<>();

	private ManagedProcess greeterApp;

	private ManagedProcess greeterSidecar;

	private ManagedProcess commsApp;

	/** greeter's app when the test stands in for it, else null. */
	private GreeterStandIn greeterStandIn;

	/** The ports of one app and its sidecar. */
	private static final class Node {

		final String appId;

		final int appPort = freePort();

		final int httpPort = freePort();

		final int grpcPort = freePort();

		final int internalGrpcPort = freePort();

		final int metricsPort = freePort();

		Node(String appId) {
			this.appId = appId;
		}

	}

	/**
	 * Other components in place of the local run's (and of its Redis): their folder, and what their
	 * sidecars' environment must hold for them (e.g. an AWS emulator's credentials).
	 */
	record Components(Path resources, Map<String, String> sidecarEnv) {
	}

	/** null: the local run's, on the stack's own Redis. */
	private final Components components;

	private DaprStack(String otlpHostPort, Path workDir, Components components) throws IOException {
		this.otlpHostPort = otlpHostPort;
		this.components = components;
		this.workDir = Files.createDirectories(workDir);
		this.resources = Files.createDirectories(workDir.resolve("resources"));
		// A run starts from no data: an earlier run's greetings and events would be loaded, delivered and counted.
		FileSystemUtils.deleteRecursively(workDir.resolve("redis"));
		FileSystemUtils.deleteRecursively(workDir.resolve("receipts"));
		this.receipts = Files.createDirectories(workDir.resolve("receipts"));
		this.config = writeConfig(workDir);
	}

	/** Starts greeter (app, then sidecar), then comms (sidecar and app together), each until it is healthy. */
	static DaprStack start(String otlpHostPort, Path workDir) throws IOException {
		return start(otlpHostPort, workDir, false, null);
	}

	/** As {@link #start}, with other components than the local run's, and no Redis. */
	static DaprStack startWith(String otlpHostPort, Path workDir, Components components) throws IOException {
		return start(otlpHostPort, workDir, false, components);
	}

	/** As {@link #start}, with a {@link GreeterStandIn} in place of greeter's app, behind greeter's real sidecar. */
	static DaprStack startWithGreeterStandIn(String otlpHostPort, Path workDir) throws IOException {
		return start(otlpHostPort, workDir, true, null);
	}

	private static DaprStack start(String otlpHostPort, Path workDir, boolean greeterStandIn, Components components)
			throws IOException {
		DaprStack stack = new DaprStack(otlpHostPort, workDir, components);
		try {
			stack.startSentry();
			if (components == null) {
				stack.startRedis();
			}
			if (greeterStandIn) {
				stack.greeterStandIn = new GreeterStandIn(stack.greeter.appPort, stack.appToken);
			}
			stack.startGreeter();
			// comms' sidecar first, as its pod starts it: comms reads through it once before it reports ready.
			ManagedProcess commsSidecar = stack.launchSidecar(stack.comms);
			stack.commsApp = stack.startApp(stack.comms, "e2e.commsJar",
					Map.of("DAPR_HTTP_PORT", String.valueOf(stack.comms.httpPort), "DAPR_GRPC_PORT",
							String.valueOf(stack.comms.grpcPort), "DAPR_API_TOKEN", stack.apiToken, "APP_API_TOKEN",
							stack.appToken));
			stack.awaitSidecar(stack.comms, commsSidecar);
			return stack;
		}
		catch (RuntimeException ex) {
			stack.close();
			throw ex;
		}
	}

	String commsUrl(String path) {
		return "http://127.0.0.1:" + this.comms.appPort + path;
	}

	ManagedProcess commsApp() {
		return this.commsApp;
	}

	GreeterStandIn greeterStandIn() {
		return this.greeterStandIn;
	}

	/** The Resiliency kubectl apply -k kubernetes/ deploys: kubernetes/components/resiliency/resiliency.yaml. */
	static Path resiliencyFile() {
		Path file = required("e2e.daprConfig").toAbsolutePath()
			.getParent()
			.resolveSibling(Path.of("components", "resiliency", "resiliency.yaml"));
		if (!Files.isRegularFile(file)) {
			throw new IllegalStateException("no resiliency policy at " + file);
		}
		return file;
	}

	String greeterAppUrl(String path) {
		return "http://127.0.0.1:" + this.greeter.appPort + path;
	}

	/** The URL of comms' sidecar's HTTP API that invokes METHOD of greeter. */
	String commsSidecarInvokeUrl(String method) {
		return invokeUrl(this.comms, method);
	}

	/** The Prometheus endpoint of APP_ID's sidecar ("comms" or "greeter"). */
	String sidecarMetricsUrl(String appId) {
		Node node = switch (appId) {
			case "comms" -> this.comms;
			case "greeter" -> this.greeter;
			default -> throw new IllegalArgumentException("no sidecar for app id " + appId);
		};
		return "http://127.0.0.1:" + node.metricsPort + "/metrics";
	}

	/** The Dapr API token of the sidecars (app → sidecar), as the apps' environment carries it. */
	String apiToken() {
		return this.apiToken;
	}

	/**
	 * Starts a third sidecar, app id "intruder", with a certificate from the same Sentry and the same
	 * API token: another workload of the namespace. Returns the URL through it that invokes METHOD of greeter.
	 */
	String startIntruderSidecar(String method) {
		startSidecar(this.intruder);
		return invokeUrl(this.intruder, method);
	}

	private static String invokeUrl(Node node, String method) {
		return "http://127.0.0.1:" + node.httpPort + "/v1.0/invoke/greeter/method/" + method;
	}

	void stopGreeterApp() {
		stop(this.greeterApp);
	}

	void stopGreeterSidecar() {
		stop(this.greeterSidecar);
	}

	/** greeter's app first (unless the stand-in is): its sidecar waits for the app's port before it serves. */
	void startGreeter() {
		if (this.greeterStandIn == null) {
			this.greeterApp = startApp(this.greeter, "e2e.greeterJar", greeterEnv());
		}
		this.greeterSidecar = startSidecar(this.greeter);
	}

	private Map<String, String> greeterEnv() {
		return Map.of("APP_API_TOKEN", this.appToken, "DAPR_GRPC_PORT", String.valueOf(this.greeter.grpcPort),
				"DAPR_API_TOKEN", this.apiToken);
	}

	private ManagedProcess startApp(Node node, String jarProperty, Map<String, String> extraEnv) {
		Map<String, String> env = new LinkedHashMap<>(extraEnv);
		env.put("SERVER_PORT", String.valueOf(node.appPort));
		env.put("MANAGEMENT_OPENTELEMETRY_TRACING_EXPORT_OTLP_ENDPOINT", "http://" + this.otlpHostPort + "/v1/traces");
		// As in Kubernetes, but every second instead of every minute: a test waits for one export.
		env.put("MANAGEMENT_OTLP_METRICS_EXPORT_ENABLED", "true");
		env.put("MANAGEMENT_OTLP_METRICS_EXPORT_URL", "http://" + this.otlpHostPort + "/v1/metrics");
		env.put("MANAGEMENT_OTLP_METRICS_EXPORT_STEP", "1s");
		// As kubernetes/base sets it, from Datadog's unified service tags.
		env.put("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=" + ENVIRONMENT + ",service.version=e2e");
		String java = ProcessHandle.current().info().command().orElse("java");
		List<String> command = List.of(java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-jar",
				required(jarProperty).toString());
		return track(ManagedProcess.start(node.appId + "-app", command, env, this.workDir)
			.awaitHealthy("http://127.0.0.1:" + node.appPort + "/actuator/health/readiness", START_TIMEOUT));
	}

	/** Dapr's certificate authority, with a new root of its own making, which the sidecars then trust. */
	private void startSentry() throws IOException {
		Path credentials = Files.createDirectories(this.workDir.resolve("sentry"));
		List<String> command = List.of(required("e2e.sentry").toString(), "--issuer-credentials",
				credentials.toString(), "--trust-domain", "localhost", "--listen-address", "127.0.0.1", "--port",
				String.valueOf(this.sentryPort), "--healthz-listen-address", "127.0.0.1", "--healthz-port",
				String.valueOf(this.sentryHealthPort), "--enable-metrics=false", "--config", this.config.toString(),
				"--log-as-json");
		track(ManagedProcess.start("sentry", command, Map.of(), this.workDir)
			.awaitHealthy("http://127.0.0.1:" + this.sentryHealthPort + "/healthz", START_TIMEOUT));
		this.trustAnchors = Files.readString(credentials.resolve("ca.crt"));
	}

	/** Not dapr.yaml: these sidecars use the cluster's Configuration, OTLP, a Sentry on a free port and an intruder. */
	private ManagedProcess startSidecar(Node node) {
		return awaitSidecar(node, launchSidecar(node));
	}

	/** Healthy once its components are loaded and its app (if it has one) answers. */
	private ManagedProcess awaitSidecar(Node node, ManagedProcess sidecar) {
		return sidecar.awaitHealthy("http://127.0.0.1:" + node.httpPort + "/v1.0/healthz", START_TIMEOUT);
	}

	private ManagedProcess launchSidecar(Node node) {
		List<String> command = new ArrayList<>(List.of(required("e2e.daprd").toString(), "--app-id", node.appId,
				"--dapr-http-port", String.valueOf(node.httpPort), "--dapr-grpc-port", String.valueOf(node.grpcPort),
				"--dapr-internal-grpc-port", String.valueOf(node.internalGrpcPort), "--metrics-port",
				String.valueOf(node.metricsPort), "--dapr-listen-addresses", "127.0.0.1",
				"--dapr-internal-grpc-listen-address", "127.0.0.1", "--enable-mtls", "--sentry-address",
				"127.0.0.1:" + this.sentryPort, "--config", this.config.toString(), "--resources-path",
				this.resources.toString(), "--resources-path",
				(this.components == null ? this.localResources : this.components.resources()).toString(), "--log-as-json",
				"--log-level", "info"));
		if (node != this.intruder) {
			command.addAll(List.of("--app-port", String.valueOf(node.appPort), "--app-protocol", "http",
					"--app-channel-address", "127.0.0.1"));
		}
		Map<String, String> env = new LinkedHashMap<>(Map.of("NAMESPACE", NAMESPACE, "DAPR_TRUST_ANCHORS",
				this.trustAnchors, "DAPR_API_TOKEN", this.apiToken, "APP_API_TOKEN", this.appToken));
		env.putAll(this.components == null
				? Map.of("REDIS_HOST", "127.0.0.1:" + this.redisPort, "RECEIPTS_DIR", this.receipts.toString())
				: this.components.sidecarEnv());
		return track(ManagedProcess.start(node.appId + "-daprd", command, env, this.workDir));
	}

	/** Redis as scripts/local-up.sh runs it: on loopback, every write in its append-only file. */
	private void startRedis() throws IOException {
		Path data = Files.createDirectories(this.workDir.resolve("redis"));
		List<String> command = List.of(required("e2e.redis").toString(), "--bind", "127.0.0.1", "--port",
				String.valueOf(this.redisPort), "--dir", data.toString(), "--appendonly", "yes", "--save", "");
		this.redis = track(ManagedProcess.start("redis", command, Map.of(), this.workDir)
			.awaitLog("Ready to accept connections", START_TIMEOUT));
	}

	/** Stops Redis (it saves its append-only file) and starts it again on the same port and data. */
	void restartRedis() throws IOException {
		stop(this.redis);
		startRedis();
	}

	/** greeter's app killed at once (SIGKILL), as the kernel's OOM killer or a lost node would. */
	void killGreeterApp() throws IOException, InterruptedException {
		this.greeterApp.kill();
		stop(this.greeterApp);
	}

	/** greeter's app started again behind its running sidecar, until it is ready. */
	void restartGreeterApp() {
		this.greeterApp = startApp(this.greeter, "e2e.greeterJar", greeterEnv());
	}

	/** What redis-cli (beside redis-server) prints for ARGS against the stack's Redis, e.g. XLEN a-stream. */
	String redis(String... args) throws IOException, InterruptedException {
		List<String> command = new ArrayList<>(List.of(required("e2e.redis").resolveSibling("redis-cli").toString(),
				"-p", String.valueOf(this.redisPort)));
		command.addAll(List.of(args));
		Process cli = new ProcessBuilder(command).redirectErrorStream(true).start();
		String output = new String(cli.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
		if (cli.waitFor() != 0) {
			throw new IllegalStateException("redis-cli " + String.join(" ", args) + " failed: " + output);
		}
		return output;
	}

	Path receipts() {
		return this.receipts;
	}

	/** The HTTP API of APP_ID's sidecar, e.g. sidecarUrl("comms", "/v1.0/publish/pubsub/greeting.requested"). */
	String sidecarUrl(String appId, String path) {
		Node node = switch (appId) {
			case "comms" -> this.comms;
			case "greeter" -> this.greeter;
			default -> throw new IllegalArgumentException("no sidecar for app id " + appId);
		};
		return "http://127.0.0.1:" + node.httpPort + path;
	}

	/**
	 * The Kubernetes Configuration (kubernetes/base/dapr-config.yaml), as deployed, with three local
	 * changes: the OTLP endpoint is the test's instead of the node's Datadog Agent, app ids resolve
	 * through a SQLite file, since mDNS needs multicast, and hot reload is off.
	 */
	@SuppressWarnings("unchecked")
	private Path writeConfig(Path dir) throws IOException {
		Yaml yaml = new Yaml();
		Map<String, Object> configuration = yaml.load(Files.readString(required("e2e.daprConfig")));
		Map<String, Object> metadata = (Map<String, Object>) configuration.get("metadata");
		metadata.remove("namespace");
		Map<String, Object> spec = (Map<String, Object>) configuration.get("spec");
		Map<String, Object> otel = (Map<String, Object>) ((Map<String, Object>) spec.get("tracing")).get("otel");
		otel.put("endpointAddress", this.otlpHostPort);
		spec.put("nameResolution", Map.of("component", "sqlite", "version", "v1", "configuration",
				Map.of("connectionString", dir.resolve("nameresolution.db").toString())));
		// As scripts/local/config.yaml: no hot reload of the fixed resource files, which restarts a sidecar.
		spec.put("features", List.of(Map.of("name", "HotReload", "enabled", false)));
		return Files.writeString(dir.resolve("config.yaml"), yaml.dump(configuration));
	}

	private ManagedProcess track(ManagedProcess process) {
		this.running.add(process);
		return process;
	}

	private void stop(ManagedProcess process) {
		process.close();
		this.running.remove(process);
	}

	/** Logs of everything started, for a failing assertion's message. */
	String logs() {
		StringBuilder all = new StringBuilder();
		for (ManagedProcess process : this.running) {
			all.append(process.tail(15)).append('\n');
		}
		return all.toString();
	}

	@Override
	public void close() {
		for (int i = this.running.size() - 1; i >= 0; i--) {
			this.running.get(i).close();
		}
		this.running.clear();
		if (this.greeterStandIn != null) {
			this.greeterStandIn.close();
		}
	}

	/**
	 * The path a system property of the pom names: a tool scripts/test.sh maven builds and passes (e.g.
	 * -Ddaprd.path=$(scripts/daprd.sh)), or a file of the repository.
	 */
	static Path required(String property) {
		String value = System.getProperty(property);
		if (value == null || value.contains("${") || !Files.exists(Path.of(value))) {
			throw new IllegalStateException("System property " + property + " must name an existing path, but is "
					+ value + " (scripts/test.sh maven builds the tools and passes their paths)");
		}
		return Path.of(value);
	}

	private static String randomToken() {
		byte[] bytes = new byte[32];
		new SecureRandom().nextBytes(bytes);
		return HexFormat.of().formatHex(bytes);
	}

	/** Ports this JVM handed out: never the same one twice. */
	private static final Set<Integer> handedOut = ConcurrentHashMap.newKeySet();

	/**
	 * A loopback port nothing listens on now, below Linux's ephemeral range (32768-60999), so no
	 * outgoing connection is given it before its server binds it, as scripts/lib.sh picks them.
	 */
	static int freePort() {
		for (int attempt = 0; attempt < 1000; attempt++) {
			int port = 20000 + ThreadLocalRandom.current().nextInt(12000);
			if (!handedOut.add(port)) {
				continue;
			}
			try (ServerSocket socket = new ServerSocket()) {
				socket.setReuseAddress(false);
				socket.bind(new InetSocketAddress("127.0.0.1", port));
				return port;
			}
			catch (IOException taken) {
				// Something listens there: another one.
			}
		}
		throw new IllegalStateException("no free loopback port between 20000 and 32000");
	}
}
