package com.example.comms.e2e;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import com.example.comms.e2e.OtlpReceiver.ReceivedSpan;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.opentelemetry.proto.trace.v1.Span.SpanKind;
import io.opentelemetry.proto.trace.v1.Status.StatusCode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer.OrderAnnotation;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

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
	private static final Duration BOUND = Duration.ofSeconds(2);

	/** What the JVM and the loopback network may add to the bound. */
	private static final Duration MARGIN = Duration.ofSeconds(2);

	private static final ObjectMapper json = new ObjectMapper();

	private static OtlpReceiver receiver;

	private static DaprStack stack;

	@BeforeAll
	static void startStack() throws Exception {
		receiver = new OtlpReceiver();
		stack = DaprStack.start(receiver, Path.of(System.getProperty("e2e.workDir"), "fallback"));
		assertThat(greet().reply().get("fallback").asBoolean()).as("greeter answers before it is stopped").isFalse();
	}

	@AfterAll
	static void stopStack() {
		if (stack != null) {
			stack.close();
		}
		if (receiver != null) {
			receiver.close();
		}
	}

	@Test
	@Order(1)
	void fallsBackWhenGreetersAppIsDownButItsSidecarIsUp() throws Exception {
		stack.stopGreeterApp();

		assertFallbackWithinBoundAndMarkedAsError();
	}

	@Test
	@Order(2)
	void fallsBackWhenGreetersSidecarIsDownToo() throws Exception {
		stack.stopGreeterSidecar();

		assertFallbackWithinBoundAndMarkedAsError();
	}

	@Test
	@Order(3)
	void recoversByItselfOnceGreeterIsBack() throws Exception {
		long commsPid = stack.commsApp().pid();
		stack.startGreeter();

		Greeting greeting = greet();
		long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
		while (greeting.reply().get("fallback").asBoolean() && System.nanoTime() < deadline) {
			Thread.sleep(500);
			greeting = greet();
		}

		assertThat(greeting.reply()).as(stack.logs()).isEqualTo(json
			.readTree("{\"message\":\"Hello, Ada!\",\"service\":\"greeter\",\"fallback\":false}"));
		assertThat(stack.commsApp().pid()).as("comms was not restarted").isEqualTo(commsPid);
	}

	private void assertFallbackWithinBoundAndMarkedAsError() throws Exception {
		Greeting greeting = greet();

		assertThat(greeting.reply()).as(stack.logs()).isEqualTo(json.readTree("{\"message\":\"Hello, Ada (from fallback)!\","
				+ "\"service\":\"comms\",\"fallback\":true,\"error\":\"greeter_unavailable\"}"));
		assertThat(greeting.took()).isLessThan(BOUND.plus(MARGIN));

		List<ReceivedSpan> trace = receiver.awaitTrace(greeting.traceId(),
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
	}

	private record Greeting(JsonNode reply, Duration took, String traceId) {
	}

	private static Greeting greet() throws Exception {
		String traceId = Traces.randomHex(16);
		long started = System.nanoTime();
		String body = HttpClient.newHttpClient()
			.send(HttpRequest.newBuilder(URI.create(stack.commsUrl("/greet")))
				.header("Content-Type", "application/json")
				.header("traceparent", "00-" + traceId + "-" + Traces.randomHex(8) + "-01")
				.POST(BodyPublishers.ofString("{\"name\":\"Ada\"}"))
				.timeout(Duration.ofSeconds(30))
				.build(), BodyHandlers.ofString())
			.body();
		return new Greeting(json.readTree(body), Duration.ofNanos(System.nanoTime() - started), traceId);
	}

}
