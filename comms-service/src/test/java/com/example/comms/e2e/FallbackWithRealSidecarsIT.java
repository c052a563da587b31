package com.example.comms.e2e;

import java.math.BigInteger;
import java.time.Duration;
import java.util.List;
import java.util.function.Predicate;

import com.example.comms.e2e.OtlpReceiver.ReceivedMetric;
import com.example.comms.e2e.OtlpReceiver.ReceivedSpan;
import io.opentelemetry.proto.trace.v1.Span.SpanKind;
import io.opentelemetry.proto.trace.v1.Status.StatusCode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer.OrderAnnotation;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;
import tools.jackson.databind.JsonNode;

import static com.example.comms.e2e.Traces.app;
import static com.example.comms.e2e.Traces.daprd;
import static com.example.comms.e2e.Traces.describe;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * greeter goes away in two steps (its app, then its sidecar) and comes back, while comms and its
 * sidecar keep running: comms answers the fallback within its bound, marks the failed call as an
 * error on its span, and greets through greeter again by itself once greeter is back.
 */
@TestMethodOrder(OrderAnnotation.class)
class FallbackWithRealSidecarsIT {

	/** comms.greeter.timeout's default. */
	private static final Duration BOUND = Duration.ofMillis(2500);

	/** What the JVM and the loopback network may add to the bound. */
	private static final Duration MARGIN = Duration.ofSeconds(2);

	@RegisterExtension
	static final RealDaprStack real = new RealDaprStack();

	/** Fallback answers comms gave so far, in this class's stack. */
	private static int fallbacks;

	@BeforeAll
	static void greeterAnswersBeforeItIsStopped() throws Exception {
		assertThat(real.greet().reply().get("fallback").asBoolean()).isFalse();
	}

	@Test
	@Order(1)
	void fallsBackWhenGreetersAppIsDownButItsSidecarIsUp() throws Exception {
		real.stack().stopGreeterApp();

		assertFallbackWithinBoundAndMarkedAsError();
	}

	@Test
	@Order(2)
	void fallsBackWhenGreetersSidecarIsDownToo() throws Exception {
		real.stack().stopGreeterSidecar();

		assertFallbackWithinBoundAndMarkedAsError();
	}

	@Test
	@Order(3)
	void recoversByItselfOnceGreeterIsBack() throws Exception {
		long commsPid = real.stack().commsApp().pid();
		real.stack().startGreeter();

		RealDaprStack.Greeting greeting = real.greet();
		long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
		while (greeting.reply().get("fallback").asBoolean() && System.nanoTime() < deadline) {
			Thread.sleep(500);
			greeting = real.greet();
		}

		assertThat(greeting.reply()).as(real.stack().logs())
			.isEqualTo(RealDaprStack.parse("{\"message\":\"Hello, Ada!\",\"service\":\"greeter\",\"fallback\":false}"));
		assertThat(real.stack().commsApp().pid()).as("comms was not restarted").isEqualTo(commsPid);
	}

	private void assertFallbackWithinBoundAndMarkedAsError() throws Exception {
		RealDaprStack.Greeting greeting = real.greet();

		assertThat(greeting.reply()).as(real.stack().logs())
			.isEqualTo(RealDaprStack.parse("{\"message\":\"Hello, Ada (from fallback)!\",\"service\":\"comms\","
					+ "\"fallback\":true,\"error\":\"greeter_unavailable\"}"));
		assertThat(greeting.took()).isLessThan(BOUND.plus(MARGIN));
		fallbacks++;
		assertFallbacksCountedInExportedMetrics();

		List<ReceivedSpan> trace = real.receiver().awaitTrace(greeting.traceId(),
				spans -> spans.stream().anyMatch(app("comms", SpanKind.SPAN_KIND_SERVER))
						&& spans.stream().anyMatch(daprd("comms")),
				Duration.ofSeconds(60));
		String spans = describe(trace);
		ReceivedSpan commsApp = trace.stream()
			.filter(app("comms", SpanKind.SPAN_KIND_SERVER))
			.findFirst()
			.orElseThrow(() -> new AssertionError("no comms app span in" + spans));
		assertThat(commsApp.status()).as("the fallback is an error on comms' span" + spans)
			.isEqualTo(StatusCode.STATUS_CODE_ERROR);
		assertThat(trace.stream().filter(daprd("comms")))
			.as("comms' sidecar marks the failed invocation as an error too" + spans)
			.anyMatch(span -> span.status() == StatusCode.STATUS_CODE_ERROR);
		assertFallbackLoggedInTrace(greeting.traceId(), commsApp.spanId());
	}

	/**
	 * comms' fallback counter reaches the OTLP endpoint (in Kubernetes, the Datadog Agent): as deltas,
	 * which add up to the fallbacks answered.
	 */
	private void assertFallbacksCountedInExportedMetrics() throws Exception {
		Predicate<ReceivedMetric> fallbackCounter = metric -> metric.name().equals("comms.greeter.fallbacks")
				&& metric.service().equals("comms") && metric.environment().equals(DaprStack.ENVIRONMENT);
		long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
		while (exported(fallbackCounter) < fallbacks && System.nanoTime() < deadline) {
			Thread.sleep(200);
		}
		Thread.sleep(2000); // two more exports: a cumulative counter would now count the same fallbacks twice
		assertThat(exported(fallbackCounter)).as("comms.greeter.fallbacks in " + real.receiver().metrics())
			.isEqualTo(fallbacks);
	}

	private static double exported(Predicate<ReceivedMetric> metric) {
		return real.receiver().metrics().stream().filter(metric).mapToDouble(ReceivedMetric::value).sum();
	}

	/**
	 * One JSON object per line, carrying the trace: OpenTelemetry's trace_id and span_id, and Datadog's
	 * dd.trace_id and dd.span_id (the low 64 bits of each, in decimal), by which Datadog ties the line
	 * to the trace.
	 */
	private void assertFallbackLoggedInTrace(String traceId, String spanId) throws Exception {
		List<String> lines = real.stack().commsApp().log().lines().filter(line -> line.contains(traceId)).toList();
		assertThat(lines).as("comms' log lines of trace " + traceId).hasSize(1);
		JsonNode line = RealDaprStack.parse(lines.get(0));
		assertThat(line.path("trace_id").asText()).isEqualTo(traceId);
		assertThat(line.path("span_id").asText()).isEqualTo(spanId);
		assertThat(line.path("dd.trace_id").asText()).isEqualTo(low64BitsAsDecimal(traceId));
		assertThat(line.path("dd.span_id").asText()).isEqualTo(low64BitsAsDecimal(spanId));
		assertThat(line.path("level").asText()).isEqualTo("WARN");
		assertThat(line.path("message").asText()).contains("greeter unavailable").doesNotContain("Ada");
	}

	private static String low64BitsAsDecimal(String hex) {
		return new BigInteger(hex, 16).mod(BigInteger.TWO.pow(64)).toString();
	}

}
