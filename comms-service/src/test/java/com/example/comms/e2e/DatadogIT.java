package com.example.comms.e2e;

import java.io.IOException;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import com.example.comms.e2e.RealDaprStack.Greeting;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.yaml.snakeyaml.Yaml;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What Datadog receives, decoded with Datadog's own types: both sidecars and both apps export to a
 * collector built with Datadog's exporter and connector (scripts/otelcol.sh datadog), running the DDOT
 * config of datadog/datadog-agent.yaml, which sends to a stand-in of Datadog's intake at its real HTTP
 * interface (scripts/datadog/intake). The sidecars' metrics, which the Agent scrapes itself, go through
 * the Agent's own OpenMetrics check.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DatadogIT {

	private static final Duration START_TIMEOUT = Duration.ofSeconds(60);

	/** The exporter flushes every 10 s; APM stats wait for their 10 s bucket to close. */
	private static final Duration EXPORT_TIMEOUT = Duration.ofSeconds(60);

	/** Spans in their AgentPayload, TracerPayload and TraceChunk. */
	private static final String[] SPANS = { "traces", "tracerPayloads", "chunks", "spans" };

	/** Grouped stats in their StatsPayload, ClientStatsPayload and bucket. */
	private static final String[] STATS = { "stats", "stats", "stats", "stats" };

	private static final String TREE = "service | operation | resource | span.kind, each span above its children";

	private static final ObjectMapper json = new ObjectMapper();

	private static final HttpClient http = HttpClient.newHttpClient();

	private static final List<ManagedProcess> running = new ArrayList<>();

	private static DaprStack stack;

	private static String intakeUrl;

	@BeforeAll
	static void start() throws Exception {
		Path workDir = Path.of(System.getProperty("e2e.workDir"), DatadogIT.class.getSimpleName());
		int intakePort = DaprStack.freePort();
		int otlpHttp = DaprStack.freePort();
		int health = DaprStack.freePort();
		intakeUrl = "http://127.0.0.1:" + intakePort;
		running.add(ManagedProcess.start("datadog-intake",
				List.of(DaprStack.required("e2e.datadogIntake").toString(), "-addr", "127.0.0.1:" + intakePort), Map.of(), workDir)
			.awaitHealthy(intakeUrl + "/decoded", START_TIMEOUT));
		Path config = writeCollectorConfig(workDir, otlpHttp, health);
		running.add(ManagedProcess.start("otelcol-datadog",
				List.of(DaprStack.required("e2e.otelcolDatadog").toString(), "--config=" + config),
				Map.of("DD_API_KEY", "0123456789abcdef0123456789abcdef", "DD_SITE", "datadoghq.com", "DD_ENV",
						DaprStack.ENVIRONMENT), workDir)
			.awaitHealthy("http://127.0.0.1:" + health + "/", START_TIMEOUT));
		stack = DaprStack.start("127.0.0.1:" + otlpHttp, workDir);
	}

	@AfterAll
	static void stop() {
		if (stack != null) {
			stack.close();
		}
		for (int i = running.size() - 1; i >= 0; i--) {
			running.get(i).close();
		}
	}

	/** One greeting: one Datadog trace of its five spans, each under its parent, named as APM shows them. */
	@Test
	@Order(1)
	void oneGreetingIsOneDatadogTraceWithEachSpanUnderItsParent() throws Exception {
		Greeting greeting = RealDaprStack.greet(http, stack);
		assertThat(greeting.fallback()).as(stack.logs()).isFalse();
		probeHealth();

		List<JsonNode> trace = awaitTrace(greeting.traceId(), spans -> spans.size() >= 5);
		assertThat(trace).as("the spans of trace %s", greeting.traceId()).hasSize(5);
		assertThat(tree(trace, low64(greeting.callerSpanId()), "")).as(TREE)
			.containsExactly("comms | http.server.request | POST /greet | server",
					"  comms | client.request | http post | client",
					"    comms | http.client.request | POST | client",
					"      greeter | server.request | CallLocal/greeter/greet | server",
					"        greeter | http.server.request | POST /greet | server");
		assertFineAndTagged(trace);
		assertThat(received(SPANS)).as("health checks are not traffic")
			.noneMatch(span -> span.path("resource").asText().toLowerCase().contains("health"));
	}

	/** APM's requests, errors and latency per service come from these stats, computed by Datadog's connector. */
	@Test
	@Order(2)
	void apmStatsCountTheGreetingsOfBothServices() throws Exception {
		for (String service : List.of("comms", "greeter")) {
			JsonNode group = await(() -> received(STATS).stream()
				.filter(g -> g.path("service").asText().equals(service)
						&& g.path("name").asText().equals("http.server.request")
						&& g.path("resource").asText().equals("POST /greet") && g.path("topLevelHits").asLong() > 0)
				.findFirst(), "APM stats of " + service + "'s POST /greet");
			assertThat(group.path("hits").asLong()).isPositive();
			assertThat(group.path("duration").asLong()).as("total duration, ns").isPositive();
			assertThat(group.path("okSummary").asText()).as("the latency distribution").isNotEmpty();
			assertThat(group.path("errors").asLong()).isZero();
		}
		assertThat(received("stats", "stats")).extracting(client -> client.path("env").asText())
			.containsOnly(DaprStack.ENVIRONMENT);
	}

	/**
	 * One asynchronous greeting: one Datadog trace from comms' POST, across both topics, to its receipt and its
	 * done. comms' Timer of it arrives as a distribution, in milliseconds, and its counter as a count.
	 */
	@Test
	@Order(3)
	void oneAsynchronousGreetingIsOneDatadogTraceFromItsPostToItsReceipt() throws Exception {
		String traceId = Traces.randomHex(16);
		String callerSpanId = Traces.randomHex(8);
		HttpResponse<String> accepted = http.send(HttpRequest.newBuilder(URI.create(stack.commsUrl("/greetings")))
			.header("Content-Type", "application/json")
			.header("traceparent", "00-" + traceId + "-" + callerSpanId + "-01")
			.POST(BodyPublishers.ofString("{\"name\":\"Ada\"}"))
			.build(), BodyHandlers.ofString());
		assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
		URI greeting = URI.create(stack.commsUrl(accepted.headers().firstValue("Location").orElseThrow()));
		await(() -> Optional
			.of(json.readTree(http.send(HttpRequest.newBuilder(greeting).build(), BodyHandlers.ofString()).body()))
			.filter(status -> status.path("status").asText().equals("done")), "greeting done");

		List<JsonNode> trace = awaitTrace(traceId, spans -> spans.size() >= 10);
		assertThat(trace).as("the spans of trace %s", traceId).hasSize(10);
		assertThat(tree(trace, low64(callerSpanId), "")).as(TREE)
			.containsExactly("comms | http.server.request | POST /greetings | server",
					// Dapr tags no db.system on a transaction: no state.query, unlike its other state calls.
					"  comms | client.request | /dapr.proto.runtime.v1.Dapr/ExecuteStateTransaction | client",
					// Dapr marks its pubsub spans CLIENT (no producer, no consumer) and sets no messaging.operation.
					"  greeter | client.request | pubsub/greeting.requested | client",
					"    greeter | http.server.request | POST /events/greeting-requested | server",
					"      greeter | client.request | /dapr.proto.runtime.v1.Dapr/PublishEvent | client",
					"        comms | client.request | pubsub/greeting.greeted | client",
					"          comms | http.server.request | POST /events/greeting-greeted | server",
					"            comms | state.query | /dapr.proto.runtime.v1.Dapr/GetState | client",
					"            comms | bindings.query | /dapr.proto.runtime.v1.Dapr/InvokeBinding | client",
					"            comms | state.query | /dapr.proto.runtime.v1.Dapr/SaveState | client");
		assertFineAndTagged(trace);

		List<JsonNode> completions = await(
				() -> Optional.of(sketches("greetings.completion")).filter(s -> !s.isEmpty()), "greetings.completion");
		assertThat(completions).as("sketches of greetings.completion").hasSize(1);
		assertThat(completions.get(0).path("cnt").asLong()).as("greetings completed").isOne();
		// In ms, Micrometer's OTLP unit (APM's is s): requested during comms' POST, completed before done is saved.
		JsonNode post = span(trace, "POST /greetings");
		assertThat(completions.get(0).path("sum").asDouble() * 1e6).as("POST to done, ms in ns")
			.isBetween((double) span(trace, "POST /events/greeting-greeted").path("start").asLong() - end(post),
					(double) span(trace, "/dapr.proto.runtime.v1.Dapr/SaveState").path("start").asLong()
							- post.path("start").asLong());
		List<JsonNode> accepts = await(
				() -> Optional.of(series("greetings.accepted")).filter(s -> sum(s) > 0), "greetings.accepted");
		assertThat(sum(accepts)).as("greetings accepted").isOne();
		assertThat(accepts).extracting(s -> s.path("type").asInt()).as("COUNT").containsOnly(1);
	}

	/** Each dead letter counts, by the topic it came from: what the monitor of dead letters watches. */
	@Test
	@Order(4)
	void aDeadLetterCountsByItsTopic() throws Exception {
		HttpResponse<String> published = http.send(HttpRequest
			.newBuilder(URI.create(stack.sidecarUrl("comms", "/v1.0/publish/pubsub/greeting.requested")))
			.header("Content-Type", "application/json")
			.header("dapr-api-token", stack.apiToken())
			.POST(BodyPublishers.ofString("{\"id\":\"not-an-id\",\"name\":\"\"}"))
			.build(), BodyHandlers.ofString());
		assertThat(published.statusCode()).as(published.body()).isEqualTo(204);

		List<JsonNode> deadLetters = await(
				() -> Optional.of(series("greetings.dead.letters")).filter(s -> sum(s) > 0), "greetings.dead.letters");
		assertThat(sum(deadLetters)).as("dead letters").isOne();
		assertThat(deadLetters).extracting(s -> s.path("type").asInt()).as("COUNT").containsOnly(1);
		assertThat(tags(deadLetters.get(0))).contains("topic:greeting.requested", "service:comms",
				"env:" + DaprStack.ENVIRONMENT);
	}

	/** A fallback is an error in Datadog, counted as one by service, and its log line opens its trace. */
	@Test
	@Order(5)
	void aFallbackIsAnErrorAndItsLogLineCarriesTheIdsDatadogFilesItUnder() throws Exception {
		stack.stopGreeterApp();
		Greeting greeting = RealDaprStack.greet(http, stack);
		assertThat(greeting.fallback()).as(stack.logs()).isTrue();

		List<JsonNode> trace = awaitTrace(greeting.traceId(),
				spans -> spans.stream().anyMatch(span -> span.path("error").asInt() == 1 && isSidecar(span))
						&& spans.stream().anyMatch(span -> span.path("error").asInt() == 1 && !isSidecar(span)));
		assertThat(trace).filteredOn(span -> span.path("error").asInt() == 1)
			.extracting(span -> span.path("service").asText() + " | " + span.path("name").asText())
			.as("the spans marked as errors")
			.contains("comms | http.server.request", "comms | http.client.request");
		await(() -> received(STATS).stream()
			.filter(g -> g.path("service").asText().equals("comms") && g.path("resource").asText().equals("POST /greet")
					&& g.path("errors").asLong() > 0)
			.findFirst(), "an error in comms' APM stats");

		List<String> lines = running.get(0).log().isEmpty() ? List.of()
				: stack.commsApp().log().lines().filter(line -> line.contains(greeting.traceId())).toList();
		assertThat(lines).as("comms' log lines of trace %s", greeting.traceId()).hasSize(1);
		JsonNode line = json.readTree(lines.get(0));
		assertThat(line.path("dd.trace_id").asText()).as("the trace Datadog filed the spans under")
			.isEqualTo(trace.get(0).path("trace_id").asText());
		assertThat(trace).extracting(span -> span.path("span_id").asText())
			.as("the span of the log line, in Datadog's trace")
			.contains(line.path("dd.span_id").asText());

		JsonNode fallbacks = await(() -> series("comms.greeter.fallbacks").stream().findFirst(),
				"comms.greeter.fallbacks");
		assertThat(tags(fallbacks)).contains("service:comms", "env:" + DaprStack.ENVIRONMENT,
				"version:" + DaprStack.ENVIRONMENT).anyMatch(tag -> tag.startsWith("reason:"));
	}

	/** The metrics the READMEs name, and every one the dashboard and monitors of datadog/ query, are sent. */
	@Test
	@Order(6)
	void theMetricsTheReadmesNameAndEveryOneTheDashboardAndMonitorsQueryAreSent() throws Exception {
		Set<String> sent = new TreeSet<>();
		received("series", "series").forEach(s -> sent.add(s.path("metric").asText()));
		received("sketches", "sketches").forEach(s -> sent.add(s.path("metric").asText()));
		// Datadog names the trace metrics it derives from the stats trace.<operation>[.hits|.errors|...].
		for (JsonNode group : received(STATS)) {
			String operation = "trace." + group.path("name").asText();
			sent.addAll(List.of(operation, operation + ".hits", operation + ".errors", operation + ".duration"));
		}
		sent.addAll(sidecarMetrics("comms"));
		sent.addAll(sidecarMetrics("greeter"));
		// The names the READMEs give.
		assertThat(sent).contains("http.server.request.duration", "http.client.requests", "comms.greeter.fallbacks",
				"jvm.memory.used", "greeter.events", "dapr.http_server_request_count.count",
				"dapr.runtime_service_invocation_res_recv_latency_ms.sum", "dapr.resiliency_cb_state");
		assertThat(Files.readAllLines(DaprStack.required("e2e.queriedMetrics"))).as("metrics sent: %s", sent)
			.isNotEmpty()
			.allMatch(sent::contains);
	}

	/** What the intake stand-in decoded so far. */
	private static JsonNode decoded() throws Exception {
		return json.readTree(http.send(HttpRequest.newBuilder(URI.create(intakeUrl + "/decoded")).build(),
				BodyHandlers.ofString()).body());
	}

	/** What the intake decoded, flattened along a path of arrays, e.g. {@link #SPANS}. */
	private static List<JsonNode> received(String... path) throws Exception {
		List<JsonNode> level = List.of(decoded());
		for (String field : path) {
			List<JsonNode> next = new ArrayList<>();
			level.forEach(node -> node.path(field).forEach(next::add));
			level = next;
		}
		return level;
	}

	private static <T> T await(Callable<Optional<T>> probe, String what) throws Exception {
		long deadline = System.nanoTime() + EXPORT_TIMEOUT.toNanos();
		Optional<T> found = probe.call();
		while (found.isEmpty() && System.nanoTime() < deadline) {
			Thread.sleep(500);
			found = probe.call();
		}
		JsonNode all = decoded();
		assertThat(all.path("errors")).as("payloads the intake could not decode").isEmpty();
		return found.orElseThrow(() -> new AssertionError("no " + what + " within " + EXPORT_TIMEOUT + " in "
				+ all.toPrettyString().lines().limit(200).toList() + "\n" + stack.logs()));
	}

	/** The spans Datadog files under a W3C trace: its id's low 64 bits. */
	private static List<JsonNode> awaitTrace(String w3cTraceId, Predicate<List<JsonNode>> complete) throws Exception {
		String traceId = low64(w3cTraceId);
		return await(() -> {
			List<JsonNode> trace = received(SPANS).stream().filter(span -> span.path("trace_id").asText().equals(traceId)).toList();
			return complete.test(trace) ? Optional.of(trace) : Optional.empty();
		}, "complete trace " + traceId);
	}

	/**
	 * "service | operation | resource | span.kind" of each span under PARENT, each followed by its own, indented,
	 * siblings by start: the flame graph, top down.
	 */
	private static List<String> tree(List<JsonNode> trace, String parent, String indent) {
		List<String> lines = new ArrayList<>();
		trace.stream()
			.filter(span -> span.path("parent_id").asText().equals(parent))
			.sorted(Comparator.comparingLong(span -> span.path("start").asLong()))
			.forEach(span -> {
				lines.add(indent + span.path("service").asText() + " | " + span.path("name").asText() + " | "
						+ span.path("resource").asText() + " | " + span.path("meta").path("span.kind").asText());
				lines.addAll(tree(trace, span.path("span_id").asText(), indent + "  "));
			});
		return lines;
	}

	/** No error, and the unified service tags: env on all; version on the apps' only (Dapr sets only service.name). */
	private static void assertFineAndTagged(List<JsonNode> trace) {
		for (JsonNode span : trace) {
			assertThat(span.path("error").asInt()).as("error of %s", span).isZero();
			assertThat(span.path("meta").path("env").asText()).as("env of %s", span).isEqualTo(DaprStack.ENVIRONMENT);
			assertThat(span.path("meta").path("version").asText()).as("version of %s", span)
				.isEqualTo(isSidecar(span) ? "" : DaprStack.ENVIRONMENT);
		}
	}

	private static JsonNode span(List<JsonNode> trace, String resource) {
		return trace.stream().filter(span -> span.path("resource").asText().equals(resource)).findFirst().orElseThrow();
	}

	private static long end(JsonNode span) {
		return span.path("start").asLong() + span.path("duration").asLong();
	}

	/** The series of METRIC received so far. */
	private static List<JsonNode> series(String metric) throws Exception {
		return received("series", "series").stream().filter(s -> s.path("metric").asText().equals(metric)).toList();
	}

	/** The sketches of distribution METRIC received so far, one per export that had values. */
	private static List<JsonNode> sketches(String metric) throws Exception {
		List<JsonNode> sketches = new ArrayList<>();
		received("sketches", "sketches").stream()
			.filter(s -> s.path("metric").asText().equals(metric))
			.forEach(s -> s.path("dogsketches").forEach(sketches::add));
		return sketches;
	}

	/** The sum of the points of SERIES (a point of 0 carries no value). */
	private static double sum(List<JsonNode> series) {
		return series.stream()
			.flatMap(s -> s.path("points").valueStream())
			.mapToDouble(point -> point.path("value").asDouble())
			.sum();
	}

	private static List<String> tags(JsonNode metric) {
		List<String> tags = new ArrayList<>();
		metric.path("tags").forEach(tag -> tags.add(tag.asText()));
		return tags;
	}

	private static boolean isSidecar(JsonNode span) {
		return span.path("meta").path("otel.library.name").asText().equals("dapr-diagnostics");
	}

	private static String low64(String hex) {
		return new BigInteger(hex, 16).mod(BigInteger.TWO.pow(64)).toString();
	}

	/** What kubelet's probes call: a sidecar's /v1.0/healthz and an app's readiness. */
	private static void probeHealth() throws Exception {
		for (URI probe : List.of(URI.create(stack.commsSidecarInvokeUrl("greet")).resolve("/v1.0/healthz"),
				URI.create(stack.commsUrl("/actuator/health/readiness")))) {
			assertThat(http.send(HttpRequest.newBuilder(probe).build(), BodyHandlers.discarding()).statusCode())
				.as("GET %s", probe).isBetween(200, 204);
		}
	}

	/**
	 * The metrics the Agent's OpenMetrics check (the pod annotation in kubernetes/base) sends from APP_ID's
	 * sidecar: the check itself, Datadog's code (scripts/datadog/openmetrics_check.py), run once on the sidecar.
	 */
	private static List<String> sidecarMetrics(String appId) throws Exception {
		String instance = StitchedTraceIT.openMetricsCheck(appId).toString()
			.replace("http://%%host%%:9090/metrics", stack.sidecarMetricsUrl(appId));
		Process check = new ProcessBuilder(DaprStack.required("e2e.datadogChecksPython").toString(),
				DaprStack.required("e2e.openMetricsCheck").toString(), instance)
			.redirectErrorStream(true)
			.start();
		String output = new String(check.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
		assertThat(check.waitFor(60, TimeUnit.SECONDS) && check.exitValue() == 0)
			.as("the OpenMetrics check on %s's sidecar: %s", appId, output).isTrue();
		return output.lines().toList();
	}

	/**
	 * The DDOT config of datadog/datadog-agent.yaml, as deployed, with what differs outside the Agent: no
	 * infraattributes processor (it reads the Agent's tagger), the test's ports, the intake stand-in's address
	 * for all three of the exporter's endpoints, a fixed hostname, and a health check to wait on.
	 */
	@SuppressWarnings("unchecked")
	private static Path writeCollectorConfig(Path dir, int otlpHttp, int health) throws IOException {
		Yaml yaml = new Yaml();
		Map<String, Object> agent = yaml.load(Files.readString(DaprStack.required("e2e.datadogAgent")));
		Map<String, Object> otelCollector = (Map<String, Object>) ((Map<String, Object>) ((Map<String, Object>) agent
			.get("spec")).get("features")).get("otelCollector");
		String configData = (String) ((Map<String, Object>) otelCollector.get("conf")).get("configData");
		Map<String, Object> config = yaml.load(configData);
		((Map<String, Object>) config.get("processors")).remove("infraattributes");
		Map<String, Object> service = (Map<String, Object>) config.get("service");
		for (Object pipeline : ((Map<String, Object>) service.get("pipelines")).values()) {
			Map<String, Object> stages = (Map<String, Object>) pipeline;
			List<Object> processors = new ArrayList<>((List<Object>) stages.getOrDefault("processors", List.of()));
			processors.remove("infraattributes");
			stages.put("processors", processors);
		}
		Map<String, Object> protocols = (Map<String, Object>) ((Map<String, Object>) ((Map<String, Object>) config
			.get("receivers")).get("otlp")).get("protocols");
		protocols.remove("grpc");
		protocols.put("http", Map.of("endpoint", "127.0.0.1:" + otlpHttp));
		Map<String, Object> datadog = (Map<String, Object>) ((Map<String, Object>) config.get("exporters"))
			.get("datadog");
		datadog.put("hostname", "e2e-host");
		for (String signal : List.of("traces", "metrics", "logs")) {
			Map<String, Object> section = new LinkedHashMap<>(
					(Map<String, Object>) datadog.getOrDefault(signal, Map.of()));
			section.put("endpoint", intakeUrl);
			datadog.put(signal, section);
		}
		config.put("extensions", Map.of("health_check", Map.of("endpoint", "127.0.0.1:" + health)));
		service.put("extensions", List.of("health_check"));
		service.put("telemetry", Map.of("metrics", Map.of("level", "none")));
		return Files.writeString(Files.createDirectories(dir).resolve("otelcol-datadog.yaml"), yaml.dump(config));
	}

}
