package com.example.comms.e2e;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.function.Predicate;

import com.example.comms.e2e.OtlpReceiver.ReceivedSpan;
import io.opentelemetry.proto.trace.v1.Span.SpanKind;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;
import tools.jackson.databind.JsonNode;

import static com.example.comms.e2e.Traces.app;
import static com.example.comms.e2e.Traces.childOf;
import static com.example.comms.e2e.Traces.daprd;
import static com.example.comms.e2e.Traces.describe;
import static com.example.comms.e2e.Traces.orphans;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * POST /greetings through real sidecars, a real Redis and the local run's components: stored with its
 * event through Dapr's outbox, greeted by greeter from the topic, done with a receipt, in one trace:
 * <pre>
 * comms   POST /greetings
 *  ├ comms daprd    ExecuteStateTransaction (the greeting, and its event in the outbox)
 *  └ greeter daprd  pubsub/greeting.requested
 *     └ greeter     POST /events/greeting-requested
 *        └ greeter daprd  PublishEvent (greeting.greeted)
 *           └ comms daprd   pubsub/greeting.greeted
 *              └ comms      POST /events/greeting-greeted
 *                 ├ comms daprd  GetState, InvokeBinding (the receipt), SaveState (done)
 * </pre>
 */
// Bad input first, while nothing else is in flight: it shows that Redis holds exactly the keys it held.
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AsyncGreetingIT {

	@RegisterExtension
	static final RealDaprStack real = new RealDaprStack();

	private static final HttpClient http = HttpClient.newHttpClient();

	private static final Duration DONE_WITHIN = Duration.ofSeconds(30);

	@Test
	void anAcceptedGreetingIsDoneWithOneReceiptInOneTrace() throws Exception {
		String traceId = Traces.randomHex(16);
		String callerSpanId = Traces.randomHex(8);

		HttpResponse<String> accepted = send(post("/greetings", "{\"name\":\"Ada\"}")
			.header("traceparent", "00-" + traceId + "-" + callerSpanId + "-01"));

		assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
		String id = RealDaprStack.parse(accepted.body()).path("id").asText();
		assertThat(accepted.headers().firstValue("Location")).hasValue("/greetings/" + id);
		JsonNode done = awaitDone(id);
		assertThat(done.path("message").asText()).isEqualTo("Hello, Ada!");
		JsonNode receipt = RealDaprStack.parse(Files.readString(real.stack().receipts().resolve(id + ".json")));
		assertThat(receipt.path("id").asText()).isEqualTo(id);
		assertThat(receipt.path("message").asText()).isEqualTo("Hello, Ada!");

		List<ReceivedSpan> trace = real.receiver().awaitTrace(traceId, AsyncGreetingIT::reachesTheReceipt,
				Duration.ofSeconds(60));
		String spans = describe(trace);
		ReceivedSpan post = trace.stream()
			.filter(named(app("comms", SpanKind.SPAN_KIND_SERVER), "POST /greetings"))
			.findFirst()
			.orElseThrow(() -> new AssertionError("no SERVER span of comms' POST /greetings in" + spans));
		assertThat(post.parentSpanId()).as("comms continues the caller's trace" + spans).isEqualTo(callerSpanId);
		edge(trace, post, named(daprd("comms"), "ExecuteStateTransaction"), spans);
		ReceivedSpan delivered = edge(trace, post, named(daprd("greeter"), "pubsub/greeting.requested"), spans);
		ReceivedSpan greeted = edge(trace, delivered,
				named(app("greeter", SpanKind.SPAN_KIND_SERVER), "/events/greeting-requested"), spans);
		ReceivedSpan published = edge(trace, greeted, named(daprd("greeter"), "PublishEvent"), spans);
		ReceivedSpan answered = edge(trace, published, named(daprd("comms"), "pubsub/greeting.greeted"), spans);
		ReceivedSpan completed = edge(trace, answered,
				named(app("comms", SpanKind.SPAN_KIND_SERVER), "/events/greeting-greeted"), spans);
		edge(trace, completed, named(daprd("comms"), "InvokeBinding"), spans);
		edge(trace, completed, named(daprd("comms"), "SaveState"), spans);
		assertThat(orphans(trace, callerSpanId)).as("spans whose parent never arrived" + spans).isEmpty();
		assertThat(trace).as("span names carry routes, never the caller's name" + spans)
			.noneMatch(span -> span.name().contains("Ada"));
	}

	@Test
	void aRetriedPostWithItsIdempotencyKeyIsTheSameGreeting() throws Exception {
		String key = UUID.randomUUID().toString();

		HttpResponse<String> first = send(post("/greetings", "{\"name\":\"Grace\"}").header("Idempotency-Key", key));
		String id = RealDaprStack.parse(first.body()).path("id").asText();
		awaitDone(id);
		HttpResponse<String> retried = send(post("/greetings", "{\"name\":\"Grace\"}").header("Idempotency-Key", key));
		HttpResponse<String> otherName = send(post("/greetings", "{\"name\":\"Linus\"}").header("Idempotency-Key", key));

		assertThat(first.statusCode()).as(first.body()).isEqualTo(202);
		assertThat(retried.statusCode()).as(retried.body()).isEqualTo(202);
		assertThat(RealDaprStack.parse(retried.body()).path("id").asText()).isEqualTo(id);
		assertThat(otherName.statusCode()).as(otherName.body()).isEqualTo(422);
		assertThat(otherName.headers().firstValue("Content-Type")).hasValue("application/problem+json");
	}

	@Test
	@Order(1)
	void badInputIsRefusedWithAProblemAndNothingIsStoredOrPublished() throws Exception {
		String keysBefore = real.stack().redis("DBSIZE");

		for (HttpRequest.Builder bad : List.of(post("/greetings", "{\"name\":\"  \"}"),
				post("/greetings", "{\"name\":\"a\\u0007b\"}"), post("/greetings", "{\"name\":"),
				post("/greetings", "{\"name\":\"" + "x".repeat(101) + "\"}"),
				post("/greetings", "{\"name\":\"Ada\"}").header("Idempotency-Key", "with space"),
				post("/greetings", "{\"name\":\"Ada\"}").setHeader("Content-Type", "text/plain"))) {
			HttpResponse<String> refused = send(bad);
			assertThat(refused.statusCode()).as(refused.body()).isBetween(400, 499);
			assertThat(refused.headers().firstValue("Content-Type")).hasValue("application/problem+json");
		}
		for (String path : List.of("/greetings/" + UUID.randomUUID(), "/greetings/not-an-id")) {
			HttpResponse<String> refused = send(HttpRequest.newBuilder(URI.create(real.stack().commsUrl(path))));
			assertThat(refused.statusCode()).as(path + ": " + refused.body()).isIn(400, 404);
			assertThat(refused.headers().firstValue("Content-Type")).hasValue("application/problem+json");
		}

		assertThat(real.stack().redis("DBSIZE")).as("Redis keys (greetings and topics)").isEqualTo(keysBefore);
	}

	@Test
	void aMalformedEventIsDeadLetteredAndTheOnesBehindItAreDone() throws Exception {
		HttpResponse<String> published = send(HttpRequest
			.newBuilder(URI.create(real.stack().sidecarUrl("comms", "/v1.0/publish/pubsub/greeting.requested")))
			.header("Content-Type", "application/json")
			.header("dapr-api-token", real.stack().apiToken())
			.POST(BodyPublishers.ofString("{\"id\":\"not-an-id\",\"name\":\"\"}")));
		assertThat(published.statusCode()).as(published.body()).isEqualTo(204);

		HttpResponse<String> accepted = send(post("/greetings", "{\"name\":\"Ada\"}"));
		awaitDone(RealDaprStack.parse(accepted.body()).path("id").asText());

		assertThat(real.receiver()
			.awaitMetric(metric -> metric.service().equals("comms") && metric.name().equals("greetings.dead.letters")
					&& "greeting.requested".equals(metric.attributes().get("topic")) && metric.value() > 0,
					Duration.ofSeconds(30)))
			.as("comms' count of dead letters from greeting.requested, in %s", real.receiver().metrics())
			.isPresent();
	}

	private static JsonNode awaitDone(String id) throws Exception {
		long deadline = System.nanoTime() + DONE_WITHIN.toNanos();
		String last = "";
		while (System.nanoTime() < deadline) {
			HttpResponse<String> status = send(
					HttpRequest.newBuilder(URI.create(real.stack().commsUrl("/greetings/" + id))));
			last = status.statusCode() + " " + status.body();
			JsonNode greeting = RealDaprStack.parse(status.body());
			if (status.statusCode() == 200 && "done".equals(greeting.path("status").asText())) {
				return greeting;
			}
			Thread.sleep(100);
		}
		throw new AssertionError("greeting " + id + " not done within " + DONE_WITHIN + ": " + last + "\n"
				+ real.stack().logs());
	}

	private static HttpRequest.Builder post(String path, String body) {
		return HttpRequest.newBuilder(URI.create(real.stack().commsUrl(path)))
			.header("Content-Type", "application/json")
			.POST(BodyPublishers.ofString(body));
	}

	private static HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
		return http.send(request.timeout(Duration.ofSeconds(30)).build(), BodyHandlers.ofString());
	}

	/** The child of PARENT that matches: the edge of the trace's tree from one hop to the next. */
	private static ReceivedSpan edge(List<ReceivedSpan> trace, ReceivedSpan parent, Predicate<ReceivedSpan> child,
			String spans) {
		return childOf(trace, parent, child)
			.orElseThrow(() -> new AssertionError("no such span under " + parent + " in" + spans));
	}

	private static Predicate<ReceivedSpan> named(Predicate<ReceivedSpan> span, String name) {
		return span.and(candidate -> candidate.name().contains(name));
	}

	/** Every hop has reported: comms' POST, greeter's handler, comms' handler of the answer, both sidecars. */
	private static boolean reachesTheReceipt(List<ReceivedSpan> trace) {
		return trace.stream().anyMatch(named(daprd("comms"), "SaveState"))
				&& trace.stream().anyMatch(named(daprd("comms"), "InvokeBinding"))
				&& trace.stream().filter(span -> span.fromApp()).count() >= 3;
	}

}
