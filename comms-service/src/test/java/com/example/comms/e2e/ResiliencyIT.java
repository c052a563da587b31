package com.example.comms.e2e;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.example.comms.e2e.OtlpReceiver.ReceivedSpan;
import org.junit.jupiter.api.MethodOrderer.OrderAnnotation;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.yaml.snakeyaml.Yaml;
import tools.jackson.databind.JsonNode;

import org.springframework.boot.convert.DurationStyle;

import static com.example.comms.e2e.Traces.daprd;
import static com.example.comms.e2e.Traces.describe;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Resiliency kubernetes/ deploys, in comms' real sidecar, with a stand-in for greeter's app behind
 * greeter's real sidecar: a slow greeter is tried once per retry, each attempt cut at the policy's timeout,
 * and comms answers its fallback within its own bound; a failing greeter opens the circuit breaker, which
 * keeps calls away from greeter and closes by itself after its timeout once greeter is healthy. Every
 * number comes from the shipped files. Takes about the breaker's timeout plus the stack's start.
 */
@TestMethodOrder(OrderAnnotation.class)
class ResiliencyIT {

	/** What the JVM and the loopback network may add to a bound. */
	private static final Duration MARGIN = Duration.ofSeconds(2);

	private static final String FALLBACK = "{\"message\":\"Hello, Ada (from fallback)!\",\"service\":\"comms\","
			+ "\"fallback\":true,\"error\":\"greeter_unavailable\"}";

	private static final String GREETING = "{\"message\":\"Hello, Ada!\",\"service\":\"greeter\",\"fallback\":false}";

	@RegisterExtension
	static final RealDaprStack real = RealDaprStack.withGreeterStandIn();

	private static final Policy policy = Policy.read(DaprStack.resiliencyFile(), "greeter");

	/** comms.greeter.timeout, comms' own bound on the call, from its application.yaml. */
	private static final Duration commsBound = commsProperty("timeout");

	private final HttpClient http = HttpClient.newHttpClient();

	@Test
	@Order(1)
	void aSlowGreeterIsTriedOncePerRetryAndCommsFallsBackWithinItsBound() throws Exception {
		GreeterStandIn greeter = healthyGreeter();
		// Slower than an attempt may take, and than comms waits in all.
		greeter.slow(commsBound.plus(policy.attemptTimeout()));
		int before = greeter.calls();
		Map<String, String> retry = Map.of("policy", "retry", "target", "app_greeter", "name", policy.name());
		Map<String, String> timeout = Map.of("policy", "timeout", "target", "app_greeter", "name", policy.name());
		double retriesBefore = metric("dapr_resiliency_activations_total", retry);
		double timeoutsBefore = metric("dapr_resiliency_activations_total", timeout);

		RealDaprStack.Greeting greeting = real.greet();

		assertThat(greeting.reply()).as(real.stack().logs()).isEqualTo(RealDaprStack.parse(FALLBACK));
		assertThat(greeter.calls() - before).as("calls that reached greeter: the first and each retry")
			.isEqualTo(1 + policy.maxRetries());
		// Each attempt waited its whole timeout, and comms answered before its own bound cut in.
		assertThat(greeting.took()).isGreaterThanOrEqualTo(policy.worstCase()).isLessThan(commsBound.plus(MARGIN));
		assertThat(fallbackLogLine(greeting.traceId()).path("message").asText())
			.as("comms' sidecar gave up (a failure), before comms' own timeout")
			.contains("(failure)");

		List<ReceivedSpan> trace = real.receiver().awaitTrace(greeting.traceId(),
				spans -> spans.stream().filter(daprd("greeter")).count() >= 1 + policy.maxRetries()
						&& spans.stream().anyMatch(daprd("comms")),
				Duration.ofSeconds(60));
		String spans = describe(trace);
		List<ReceivedSpan> commsSidecar = trace.stream().filter(daprd("comms")).toList();
		assertThat(commsSidecar).as("one span of comms' sidecar for the one invocation" + spans).hasSize(1);
		List<ReceivedSpan> attempts = trace.stream().filter(daprd("greeter")).toList();
		assertThat(attempts).as("one span of greeter's sidecar per attempt, each under comms' sidecar's" + spans)
			.hasSize(1 + policy.maxRetries())
			.allMatch(span -> span.parentSpanId().equals(commsSidecar.get(0).spanId()));
		assertThat(greeter.calls() - before).as("no call after comms answered").isEqualTo(1 + policy.maxRetries());

		// Counted once per call that needed them, not per attempt.
		assertThat(metric("dapr_resiliency_activations_total", retry) - retriesBefore)
			.as("the retries in comms' sidecar's metrics").isEqualTo(1);
		assertThat(metric("dapr_resiliency_activations_total", timeout) - timeoutsBefore)
			.as("the timeouts in comms' sidecar's metrics").isEqualTo(1);
	}

	@Test
	@Order(2)
	void aFailingGreeterOpensTheBreakerWhichClosesByItselfOnceGreeterIsHealthy() throws Exception {
		// The breaker's counts start again after its interval: the first test's failures are forgotten.
		Thread.sleep(policy.interval());
		GreeterStandIn greeter = healthyGreeter();
		greeter.failing();
		int before = greeter.calls();

		int attempts = 1 + policy.maxRetries();
		// A burst of failures below the breaker's minimum of attempts leaves it closed: every call still tries
		// greeter. The window holds one attempt already: healthyGreeter's greeting.
		int burst = (policy.minRequests() - 2) / attempts;
		for (int i = 0; i < burst; i++) {
			assertThat(real.greet().reply()).isEqualTo(RealDaprStack.parse(FALLBACK));
		}
		assertThat(greeter.calls() - before).as("a burst below the minimum: every attempt reached greeter")
			.isEqualTo(burst * attempts);
		assertThat(breakerState()).as("comms' sidecar's metrics after a burst below the minimum").isEqualTo("closed");

		// More of them: it opens once one of its windows holds the minimum of attempts, all failed. A window
		// may end on the way (its counts start again), so it takes fewer than two windows' minimum.
		long trippingRequestStarted = 0;
		int reached;
		do {
			int callsBefore = greeter.calls();
			long started = System.nanoTime();
			assertThat(real.greet().reply()).isEqualTo(RealDaprStack.parse(FALLBACK));
			reached = greeter.calls() - callsBefore;
			// The call that opened it, not one that found it open.
			trippingRequestStarted = (reached > 0) ? started : trippingRequestStarted;
		}
		while (reached == attempts && greeter.calls() - before < 2 * policy.minRequests());
		int failed = greeter.calls() - before;
		assertThat(1 + failed).as("attempts, the greeting and the failed ones, that opened the breaker")
			.isGreaterThanOrEqualTo(policy.minRequests())
			.isLessThan(2 * policy.minRequests());

		RealDaprStack.Greeting whileOpen = real.greet();
		assertThat(whileOpen.reply()).isEqualTo(RealDaprStack.parse(FALLBACK));
		assertThat(greeter.calls() - before).as("no call reaches greeter while the breaker is open").isEqualTo(failed);
		assertThat(breakerState()).as("comms' sidecar's metrics").isEqualTo("open");
		List<ReceivedSpan> openTrace = real.receiver().awaitTrace(whileOpen.traceId(),
				spans -> spans.stream().anyMatch(daprd("comms")), Duration.ofSeconds(60));
		assertThat(openTrace).as("no span of greeter's sidecar in a call the open breaker stopped" + describe(openTrace))
			.noneMatch(daprd("greeter"));

		greeter.fine();
		RealDaprStack.Greeting greeting = real.greet();
		long deadline = trippingRequestStarted + policy.breakerTimeout().plus(Duration.ofSeconds(30)).toNanos();
		while (greeting.reply().get("fallback").asBoolean() && System.nanoTime() < deadline) {
			assertThat(greeter.calls() - before).as("no call reaches greeter while the breaker is open").isEqualTo(failed);
			Thread.sleep(1000);
			greeting = real.greet();
		}
		Duration closedAfter = Duration.ofNanos(System.nanoTime() - trippingRequestStarted);

		assertThat(greeting.reply()).as(real.stack().logs()).isEqualTo(RealDaprStack.parse(GREETING));
		assertThat(closedAfter).as("the breaker stays open for its timeout").isGreaterThanOrEqualTo(policy.breakerTimeout());
		assertThat(greeter.calls() - before).as("the half-open breaker let one call through").isEqualTo(failed + 1);
		// It closes after maxRequests successes in a row; the next call reports the state it found.
		for (int i = 0; i < policy.halfOpenRequests(); i++) {
			assertThat(real.greet().reply()).isEqualTo(RealDaprStack.parse(GREETING));
		}
		assertThat(breakerState()).as("comms' sidecar's metrics").isEqualTo("closed");
	}

	/** greeter answering at once, and answered through the sidecars. */
	private static GreeterStandIn healthyGreeter() throws Exception {
		GreeterStandIn greeter = real.stack().greeterStandIn();
		greeter.fine();
		assertThat(real.greet().reply()).as(real.stack().logs()).isEqualTo(RealDaprStack.parse(GREETING));
		return greeter;
	}

	/** The state comms' sidecar reports for its breaker on calls to greeter (dapr_resiliency_cb_state is 1 for it). */
	private String breakerState() throws Exception {
		String metrics = scrape();
		Pattern line = Pattern.compile("^dapr_resiliency_cb_state\\{(.*)} 1$", Pattern.MULTILINE);
		Matcher m = line.matcher(metrics);
		String state = null;
		while (m.find()) {
			Map<String, String> labels = labels(m.group(1));
			if ("app_greeter".equals(labels.get("target")) && policy.name().equals(labels.get("name"))) {
				assertThat(state).as("one state at a time:\n" + metrics).isNull();
				state = labels.get("status");
			}
		}
		return state;
	}

	/** The sum of a metric of comms' sidecar over the series with these labels. */
	private double metric(String name, Map<String, String> wanted) throws Exception {
		Matcher m = Pattern.compile("^" + name + "\\{(.*)} (\\S+)$", Pattern.MULTILINE).matcher(scrape());
		double sum = 0;
		while (m.find()) {
			if (labels(m.group(1)).entrySet().containsAll(wanted.entrySet())) {
				sum += Double.parseDouble(m.group(2));
			}
		}
		return sum;
	}

	private String scrape() throws Exception {
		return this.http
			.send(HttpRequest.newBuilder(URI.create(real.stack().sidecarMetricsUrl("comms")))
				.timeout(Duration.ofSeconds(10))
				.build(), BodyHandlers.ofString())
			.body();
	}

	private static Map<String, String> labels(String text) {
		Matcher m = Pattern.compile("(\\w+)=\"([^\"]*)\"").matcher(text);
		Map<String, String> labels = new HashMap<>();
		while (m.find()) {
			labels.put(m.group(1), m.group(2));
		}
		return labels;
	}

	/** comms' one log line of the trace, a JSON object. */
	private static JsonNode fallbackLogLine(String traceId) throws Exception {
		List<String> lines = real.stack().commsApp().log().lines().filter(line -> line.contains(traceId)).toList();
		assertThat(lines).as("comms' log lines of trace " + traceId).hasSize(1);
		return RealDaprStack.parse(lines.get(0));
	}

	/** comms.greeter.NAME from comms' application.yaml as a duration. */
	@SuppressWarnings("unchecked")
	private static Duration commsProperty(String name) {
		try (InputStream in = ResiliencyIT.class.getResourceAsStream("/application.yaml")) {
			Map<String, Object> yaml = new Yaml().load(in);
			Map<String, Object> greeter = (Map<String, Object>) ((Map<String, Object>) yaml.get("comms")).get("greeter");
			return DurationStyle.detectAndParse(String.valueOf(greeter.get(name)));
		}
		catch (IOException ex) {
			throw new IllegalStateException("cannot read comms' application.yaml", ex);
		}
	}

	/** What the shipped Resiliency applies to calls to one app. */
	record Policy(String name, Duration attemptTimeout, int maxRetries, Duration retryInterval, int minRequests,
			Duration interval, Duration breakerTimeout, int halfOpenRequests) {

		/** The breaker's trip expression this test understands: a minimum of attempts, and a share of them failed. */
		private static final Pattern TRIP = Pattern
			.compile("requests >= (\\d+) && totalFailures \\* (\\d+) >= requests \\* (\\d+)");

		/** Every attempt timing out, and the waits between them. */
		Duration worstCase() {
			return this.attemptTimeout.multipliedBy(1 + this.maxRetries).plus(this.retryInterval.multipliedBy(this.maxRetries));
		}

		@SuppressWarnings("unchecked")
		static Policy read(Path file, String app) {
			Map<String, Object> resiliency;
			try {
				resiliency = new Yaml().load(Files.readString(file));
			}
			catch (IOException ex) {
				throw new IllegalStateException("cannot read " + file, ex);
			}
			Map<String, Object> spec = (Map<String, Object>) resiliency.get("spec");
			Map<String, Object> policies = (Map<String, Object>) spec.get("policies");
			Map<String, Object> target = (Map<String, Object>) ((Map<String, Object>) ((Map<String, Object>) spec
				.get("targets")).get("apps")).get(app);
			String timeout = String.valueOf(((Map<String, Object>) policies.get("timeouts")).get(target.get("timeout")));
			Map<String, Object> retry = (Map<String, Object>) ((Map<String, Object>) policies.get("retries"))
				.get(target.get("retry"));
			Map<String, Object> breaker = (Map<String, Object>) ((Map<String, Object>) policies.get("circuitBreakers"))
				.get(target.get("circuitBreaker"));
			if (!"constant".equals(retry.get("policy"))) {
				throw new IllegalStateException(file + ": this test knows only the constant retry policy");
			}
			Matcher trip = TRIP.matcher(String.valueOf(breaker.get("trip")));
			if (!trip.matches()) {
				throw new IllegalStateException(file + ": this test knows only the trip 'requests >= N && totalFailures * A >= requests * B', not "
						+ breaker.get("trip"));
			}
			return new Policy((String) ((Map<String, Object>) resiliency.get("metadata")).get("name"),
					DurationStyle.detectAndParse(timeout), ((Number) retry.get("maxRetries")).intValue(),
					DurationStyle.detectAndParse(String.valueOf(retry.get("duration"))), Integer.parseInt(trip.group(1)),
					DurationStyle.detectAndParse(String.valueOf(breaker.get("interval"))),
					DurationStyle.detectAndParse(String.valueOf(breaker.get("timeout"))),
					((Number) breaker.get("maxRequests")).intValue());
		}

	}

}
