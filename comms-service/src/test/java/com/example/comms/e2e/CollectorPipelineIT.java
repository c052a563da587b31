package com.example.comms.e2e;

import java.io.IOException;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import com.example.comms.e2e.OtlpReceiver.ReceivedSpan;
import com.example.comms.e2e.RealDaprStack.Greeting;
import io.opentelemetry.proto.trace.v1.Span.SpanKind;
import io.opentelemetry.proto.trace.v1.Status.StatusCode;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

import static com.example.comms.e2e.Traces.app;
import static com.example.comms.e2e.Traces.childOf;
import static com.example.comms.e2e.Traces.commsSidecarUnder;
import static com.example.comms.e2e.Traces.daprd;
import static com.example.comms.e2e.Traces.describe;
import static com.example.comms.e2e.Traces.orphans;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The collector path of kubernetes/components/otel-collector on one machine: both sidecars and both
 * apps export to a real agent collector, which forwards to a real gateway collector, which tail-samples
 * and exports to two OTLP receivers, standing in for the Datadog Agent and for another OTLP backend.
 * The collectors are the binary scripts/otelcol.sh builds, running the component's own config files;
 * only the endpoints (their ${env:...} placeholders, which the manifests fill in the cluster) differ.
 */
class CollectorPipelineIT {

	/** Routine requests: enough for the sampled share to be told from another by a wide margin. */
	private static final int ROUTINE = 300;

	private static final int FAILING = 20;

	private static final Duration START_TIMEOUT = Duration.ofSeconds(60);

	private final HttpClient http = HttpClient.newHttpClient();

	private final Path configs = DaprStack.required("e2e.collectorConfigs");

	/** The endpoints of both collectors, free loopback ports; each config reads the ones it uses. */
	private record Endpoints(int agentHttp, int agentHealth, int gatewayGrpc, int gatewayHealth) {

		static Endpoints free() {
			return new Endpoints(DaprStack.freePort(), DaprStack.freePort(), DaprStack.freePort(), DaprStack.freePort());
		}

		Map<String, String> environment(String datadogAgent, String backend, boolean gateway) {
			return Map.of("OTLP_HTTP_ENDPOINT", "127.0.0.1:" + this.agentHttp, "OTLP_GRPC_ENDPOINT",
					"127.0.0.1:" + this.gatewayGrpc, "HEALTH_CHECK_ENDPOINT",
					"127.0.0.1:" + (gateway ? this.gatewayHealth : this.agentHealth), "GATEWAY_OTLP_ENDPOINT",
					"127.0.0.1:" + this.gatewayGrpc, "DATADOG_AGENT_OTLP_ENDPOINT", "http://" + datadogAgent,
					"OTLP_BACKEND_ENDPOINT", "http://" + backend);
		}

	}

	/** What the shipped gateway config decides with, read from it. */
	private record Sampling(double share, Duration slowFrom, Duration decisionWait, boolean keepsErrors) {

		@SuppressWarnings("unchecked")
		static Sampling of(Path gatewayConfig) throws IOException {
			Map<String, Object> config = new Yaml().load(Files.readString(gatewayConfig));
			Map<String, Object> tail = (Map<String, Object>) ((Map<String, Object>) config.get("processors"))
				.get("tail_sampling");
			List<Map<String, Object>> policies = (List<Map<String, Object>>) tail.get("policies");
			Function<String, Map<String, Object>> policy = type -> policies.stream()
				.filter(p -> type.equals(p.get("type")))
				.map(p -> (Map<String, Object>) p.get(type))
				.findFirst()
				.orElseThrow(() -> new AssertionError("the gateway has no " + type + " policy"));
			double percentage = ((Number) policy.apply("probabilistic").get("sampling_percentage")).doubleValue();
			long slowMs = ((Number) policy.apply("latency").get("threshold_ms")).longValue();
			boolean errors = ((List<String>) policy.apply("status_code").get("status_codes")).contains("ERROR");
			Duration wait = Duration.parse("PT" + String.valueOf(tail.get("decision_wait")).toUpperCase());
			return new Sampling(percentage / 100, Duration.ofMillis(slowMs), wait, errors);
		}

	}

	/** A component the manifest (scripts/otelcol/builder-config.yaml) lacks fails here, not in the cluster. */
	@Test
	void everyShippedConfigIsValidForTheBuiltCollector() throws Exception {
		Map<String, String> env = Endpoints.free().environment("127.0.0.1:1", "127.0.0.1:2", true);
		List<Path> files;
		try (Stream<Path> listing = Files.list(this.configs)) {
			files = listing.filter(file -> file.toString().endsWith(".yaml")).sorted().toList();
		}
		assertThat(files).extracting(file -> file.getFileName().toString()).contains("agent.yaml", "gateway.yaml");
		for (Path file : files) {
			ProcessBuilder validate = new ProcessBuilder(otelcol(), "validate", "--config=" + file)
				.redirectErrorStream(true);
			validate.environment().putAll(env);
			Process process = validate.start();
			String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
			assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
			assertThat(process.exitValue()).as("otelcol validate --config=%s:%n%s", file, output).isZero();
		}
	}

	@Test
	void keepsEveryErrorTraceWholeAndAShareOfTheRoutineOnesAndNeverSplitsATrace() throws Exception {
		Sampling sampling = Sampling.of(this.configs.resolve("gateway.yaml"));
		assertThat(sampling.keepsErrors()).as("the gateway keeps every trace with an error").isTrue();
		Path workDir = Path.of(System.getProperty("e2e.workDir"), getClass().getSimpleName());
		Endpoints endpoints = Endpoints.free();
		try (OtlpReceiver datadogAgent = new OtlpReceiver(); OtlpReceiver backend = new OtlpReceiver();
				ManagedProcess gateway = collector("gateway", endpoints.environment(datadogAgent.hostPort(),
						backend.hostPort(), true), workDir);
				ManagedProcess agent = collector("agent", endpoints.environment(datadogAgent.hostPort(),
						backend.hostPort(), false), workDir)) {
			gateway.awaitHealthy("http://127.0.0.1:" + endpoints.gatewayHealth() + "/", START_TIMEOUT);
			agent.awaitHealthy("http://127.0.0.1:" + endpoints.agentHealth() + "/", START_TIMEOUT);

			List<Greeting> warmUp = new ArrayList<>();
			List<Greeting> routine = new ArrayList<>();
			List<Greeting> failing = new ArrayList<>();
			try (DaprStack stack = DaprStack.start("127.0.0.1:" + endpoints.agentHttp(), workDir)) {
				// The first calls are slow (JIT, connections): sampled as slow, so not counted as routine.
				long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
				do {
					warmUp.add(greet(stack));
				}
				while (warmUp.get(warmUp.size() - 1).fallback() && System.nanoTime() < deadline);
				for (int i = 0; i < 10; i++) {
					warmUp.add(greet(stack));
				}
				for (int i = 0; i < ROUTINE; i++) {
					routine.add(greet(stack));
				}
				stack.stopGreeterApp();
				for (int i = 0; i < FAILING; i++) {
					failing.add(greet(stack));
				}
				assertThat(routine).as(stack.logs()).noneMatch(Greeting::fallback);
				assertThat(failing).as(stack.logs()).allMatch(Greeting::fallback);

				// The failing requests came last: once they are all in, every decision is taken.
				long decided = System.nanoTime() + sampling.decisionWait().plus(Duration.ofSeconds(60)).toNanos();
				for (Greeting sent : failing) {
					List<ReceivedSpan> trace = datadogAgent.awaitTrace(sent.traceId(),
							spans -> errorTraceWhole(spans, sent).isEmpty(),
							Duration.ofNanos(Math.max(0, decided - System.nanoTime())));
					assertThat(errorTraceWhole(trace, sent)).as("error trace %s arrived whole; agent: %s%ngateway: %s",
							sent.traceId(), agent.tail(20), gateway.tail(20))
						.isEmpty();
				}
			}
			awaitQuiet(datadogAgent, backend);

			assertThat(datadogAgent.rejected()).isEmpty();
			assertThat(backend.rejected()).isEmpty();
			assertThat(spansPerTrace(backend)).as("the other OTLP backend gets exactly what the Datadog Agent gets")
				.isEqualTo(spansPerTrace(datadogAgent));
			for (Greeting sent : failing) {
				assertThat(errorTraceWhole(datadogAgent.trace(sent.traceId()), sent)).isEmpty();
			}
			for (Greeting sent : concat(warmUp, routine)) {
				List<ReceivedSpan> trace = datadogAgent.trace(sent.traceId());
				assertThat(trace.isEmpty() || routineTraceWhole(trace, sent).isEmpty())
					.as("trace %s arrived split: %s%s", sent.traceId(), routineTraceWhole(trace, sent), describe(trace))
					.isTrue();
			}

			// Traces faster than the latency threshold are kept by the probabilistic policy alone:
			// Bernoulli trials. Within 4 standard deviations of the binomial, a correct sampler
			// passes in all but about 1 in 16,000 runs; a share half or double the configured one fails.
			List<Greeting> fast = routine.stream().filter(sent -> sent.took().compareTo(sampling.slowFrom()) < 0).toList();
			assertThat(fast).as("routine requests faster than the latency policy's threshold")
				.hasSizeGreaterThanOrEqualTo(ROUTINE * 9 / 10);
			long kept = fast.stream().filter(sent -> !datadogAgent.trace(sent.traceId()).isEmpty()).count();
			System.out.printf("kept %d of %d routine traces faster than %s; all %d error traces whole%n", kept,
					fast.size(), sampling.slowFrom(), failing.size());
			double expected = fast.size() * sampling.share();
			double tolerance = 4 * Math.sqrt(fast.size() * sampling.share() * (1 - sampling.share()));
			assertThat((double) kept)
				.as("routine traces kept of %d, at the configured share %.2f: %.1f ± %.1f", fast.size(),
						sampling.share(), expected, tolerance)
				.isBetween(expected - tolerance, expected + tolerance);
		}
	}

	/**
	 * An error trace: comms' failing span, its sidecar's under it, and no orphan. (Greeter's sidecar
	 * has spans only for the attempts made before the resiliency policy's breaker opened.)
	 */
	private static List<String> errorTraceWhole(List<ReceivedSpan> trace, Greeting sent) {
		List<String> missing = new ArrayList<>();
		Optional<ReceivedSpan> comms = commsSpan(trace, sent);
		if (comms.isEmpty() || comms.get().status() != StatusCode.STATUS_CODE_ERROR) {
			missing.add("comms app SERVER span with status ERROR");
			return missing;
		}
		Optional<ReceivedSpan> commsSidecar = commsSidecarUnder(trace, comms.get());
		if (commsSidecar.isEmpty() || commsSidecar.get().status() != StatusCode.STATUS_CODE_ERROR) {
			missing.add("comms daprd span with status ERROR under comms' call to it");
		}
		if (!orphans(trace, sent.callerSpanId()).isEmpty()) {
			missing.add("the parents of " + orphans(trace, sent.callerSpanId()));
		}
		return missing;
	}

	/** comms' SERVER span of the request: the child of the caller's span. */
	private static Optional<ReceivedSpan> commsSpan(List<ReceivedSpan> trace, Greeting sent) {
		return trace.stream()
			.filter(app("comms", SpanKind.SPAN_KIND_SERVER))
			.filter(span -> span.parentSpanId().equals(sent.callerSpanId()))
			.findFirst();
	}

	/** A routine trace: comms app (server, client) → comms daprd → greeter daprd → greeter app, and no span whose parent is missing. */
	private static List<String> routineTraceWhole(List<ReceivedSpan> trace, Greeting sent) {
		List<String> missing = new ArrayList<>();
		Optional<ReceivedSpan> comms = commsSpan(trace, sent);
		Optional<ReceivedSpan> commsSidecar = comms.flatMap(span -> commsSidecarUnder(trace, span));
		Optional<ReceivedSpan> greeterSidecar = commsSidecar.flatMap(span -> childOf(trace, span, daprd("greeter")));
		Optional<ReceivedSpan> greeter = greeterSidecar
			.flatMap(span -> childOf(trace, span, app("greeter", SpanKind.SPAN_KIND_SERVER)));
		if (greeter.isEmpty()) {
			missing.add("the chain comms app → comms daprd → greeter daprd → greeter app");
		}
		if (!orphans(trace, sent.callerSpanId()).isEmpty()) {
			missing.add("the parents of " + orphans(trace, sent.callerSpanId()));
		}
		return missing;
	}

	/** Waits until neither receiver has taken a span for two seconds (the collectors' batches are sent within 200 ms). */
	private static void awaitQuiet(OtlpReceiver... receivers) throws InterruptedException {
		long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
		int before = -1;
		int now = count(receivers);
		while (now != before && System.nanoTime() < deadline) {
			before = now;
			Thread.sleep(2000);
			now = count(receivers);
		}
	}

	private static int count(OtlpReceiver... receivers) {
		return Stream.of(receivers).mapToInt(receiver -> receiver.spans().size()).sum();
	}

	private static Map<String, Long> spansPerTrace(OtlpReceiver receiver) {
		return receiver.spans()
			.stream()
			.collect(Collectors.groupingBy(ReceivedSpan::traceId, Collectors.counting()));
	}

	private Greeting greet(DaprStack stack) throws Exception {
		Greeting greeting = RealDaprStack.greet(this.http, stack);
		assertThat(greeting.status()).as(greeting.reply().toString()).isEqualTo(200);
		return greeting;
	}

	/** otelcol with one of the component's configs; the collector's own metrics endpoint is off (a fixed port). */
	private ManagedProcess collector(String name, Map<String, String> env, Path workDir) {
		return ManagedProcess.start("otelcol-" + name, List.of(otelcol(), "--config=" + this.configs.resolve(name + ".yaml"),
				"--set=service::telemetry::metrics::level=none"), env, workDir);
	}

	private static String otelcol() {
		return DaprStack.required("e2e.otelcol").toString();
	}

	private static <T> List<T> concat(List<T> first, List<T> second) {
		return Stream.concat(first.stream(), second.stream()).toList();
	}

}
