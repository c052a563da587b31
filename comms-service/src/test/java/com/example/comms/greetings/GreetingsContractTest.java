package com.example.comms.greetings;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import com.example.comms.greetings.DaprSidecarStandIn.Behaviour;
import com.example.comms.greetings.DaprSidecarStandIn.Call;
import io.dapr.v1.CommonProtos.StateItem;
import io.dapr.v1.CommonProtos.StateOptions.StateConcurrency;
import io.dapr.v1.DaprBindingsProtos.InvokeBindingRequest;
import io.dapr.v1.DaprStateProtos.ExecuteStateTransactionRequest;
import io.dapr.v1.DaprStateProtos.GetStateRequest;
import io.dapr.v1.DaprStateProtos.SaveStateRequest;
import io.dapr.v1.DaprStateProtos.TransactionalStateOperation;
import io.micrometer.core.instrument.MeterRegistry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.micrometer.tracing.test.autoconfigure.AutoConfigureTracing;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The asynchronous greeting over real HTTP, with the Dapr SDK's real client calling a stand-in gRPC
 * server where comms' sidecar would be: guards what comms stores and writes through the sidecar, how,
 * in which order and in which trace, and every answer of its routes. Real daprd: the e2e tests.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
		properties = { "app.api.token=" + GreetingsContractTest.APP_TOKEN, "comms.sidecar.api-token=sidecar-token",
				"comms.greetings.timeout=1s" })
@AutoConfigureTracing
class GreetingsContractTest {

	static final String APP_TOKEN = "greetings-contract-test-token";

	private static final String TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";

	private static final String CALLER_SPAN_ID = "00f067aa0ba902b7";

	private static final String TRACEPARENT = "00-" + TRACE_ID + "-" + CALLER_SPAN_ID + "-01";

	private static final HttpClient http = HttpClient.newHttpClient();

	private static final ObjectMapper json = new ObjectMapper();

	private static final DaprSidecarStandIn sidecar = DaprSidecarStandIn.start();

	@LocalServerPort
	int port;

	@Autowired
	MeterRegistry meters;

	@DynamicPropertySource
	static void pointTheDaprClientAtTheStandIn(DynamicPropertyRegistry registry) {
		registry.add("comms.sidecar.grpc-port", sidecar::port);
	}

	@AfterAll
	static void stopStandIn() {
		sidecar.close();
	}

	@BeforeEach
	void resetStandIn() {
		sidecar.behave(Behaviour.ANSWER);
		sidecar.forgetCalls();
	}

	@Test
	void storesTheGreetingAndItsEventInOneTransactionAndAnswers202() throws Exception {
		double before = this.meters.get(Greetings.ACCEPTED_METRIC).counter().count();

		HttpResponse<String> response = request("{\"name\":\" Ada \"}", Map.of());

		assertThat(response.statusCode()).isEqualTo(202);
		JsonNode body = json.readTree(response.body());
		String id = body.get("id").asString();
		assertThat(UUID.fromString(id).toString()).isEqualTo(id);
		assertThat(body).isEqualTo(json.readTree("{\"id\":\"" + id + "\",\"status\":\"pending\"}"));
		assertThat(response.headers().firstValue("Location")).hasValue("/greetings/" + id);
		assertThat(this.meters.get(Greetings.ACCEPTED_METRIC).counter().count()).isEqualTo(before + 1);

		Call call = sidecar.nextCall(5, TimeUnit.SECONDS);
		assertThat(call.method()).isEqualTo("ExecuteStateTransaction");
		assertThat(call.headers()).containsEntry("dapr-api-token", "sidecar-token");
		ExecuteStateTransactionRequest transaction = call.request(ExecuteStateTransactionRequest.class);
		assertThat(transaction.getStoreName()).isEqualTo("greetings");
		assertThat(transaction.getOperationsList()).extracting(TransactionalStateOperation::getOperationType)
			.containsExactly("upsert", "upsert");
		StateItem greeting = transaction.getOperations(0).getRequest();
		assertThat(greeting.getKey()).isEqualTo(id);
		// No content type (Dapr's Redis state store would take the transaction for RedisJSON); the request's
		// trace context, which Dapr's outbox copies into the event.
		assertThat(greeting.getMetadataMap()).containsOnlyKeys("traceparent")
			.containsEntry("traceparent", call.headers().get("traceparent"));
		assertThat(greeting.hasEtag()).isFalse();
		JsonNode stored = json.readTree(greeting.getValue().toStringUtf8());
		assertThat(stored.propertyNames()).containsExactlyInAnyOrder("id", "name", "status", "createdAt");
		assertThat(stored.get("id").asString()).isEqualTo(id);
		assertThat(stored.get("name").asString()).isEqualTo("Ada");
		assertThat(stored.get("status").asString()).isEqualTo("pending");
		assertThat(Instant.parse(stored.get("createdAt").asString())).isBeforeOrEqualTo(Instant.now());
		// What Dapr's outbox publishes as greeting.requested, as JSON, in place of the stored value.
		StateItem event = transaction.getOperations(1).getRequest();
		assertThat(event.getKey()).isEqualTo(id);
		assertThat(event.getMetadataMap())
			.isEqualTo(Map.of("contentType", "application/json", "outbox.projection", "true"));
		assertThat(json.readTree(event.getValue().toStringUtf8()))
			.isEqualTo(json.readTree("{\"id\":\"" + id + "\",\"name\":\"Ada\"}"));
		assertThat(sidecar.nextCall(200, TimeUnit.MILLISECONDS)).as("another call to the sidecar").isNull();
	}

	@Test
	void answersAGreetingPendingThenDoneWithGreetersMessage() throws Exception {
		String id = requestedGreeting();
		assertThat(json.readTree(get("/greetings/" + id).body()))
			.isEqualTo(json.readTree("{\"id\":\"" + id + "\",\"status\":\"pending\"}"));

		HttpResponse<String> answer = deliver("/events/greeting-greeted", greeted(id, "Hello, Ada!"), Map.of());

		assertThat(answer.statusCode()).isEqualTo(200);
		assertThat(json.readTree(answer.body())).isEqualTo(json.readTree("{\"status\":\"SUCCESS\"}"));
		HttpResponse<String> done = get("/greetings/" + id);
		assertThat(done.statusCode()).isEqualTo(200);
		assertThat(json.readTree(done.body()))
			.isEqualTo(json.readTree("{\"id\":\"" + id + "\",\"status\":\"done\",\"message\":\"Hello, Ada!\"}"));
	}

	@Test
	void writesTheReceiptThenSavesTheGreetingAsDoneAtTheEtagItRead() throws Exception {
		String id = requestedGreeting();
		long completions = this.meters.get(Greetings.COMPLETION_METRIC).timer().count();

		deliver("/events/greeting-greeted", greeted(id, "Hello, Ada!"), Map.of());

		Call read = sidecar.nextCall(5, TimeUnit.SECONDS);
		assertThat(read.method()).isEqualTo("GetState");
		assertThat(read.request(GetStateRequest.class).getKey()).isEqualTo(id);
		Call receipt = sidecar.nextCall(5, TimeUnit.SECONDS);
		assertThat(receipt.method()).isEqualTo("InvokeBinding");
		InvokeBindingRequest create = receipt.request(InvokeBindingRequest.class);
		assertThat(create.getName()).isEqualTo("receipts");
		assertThat(create.getOperation()).isEqualTo("create");
		assertThat(create.getMetadataMap()).isEqualTo(Map.of("fileName", id + ".json", "key", id + ".json"));
		// greetedAt: the time greeter's event was published, the same on every delivery.
		assertThat(json.readTree(create.getData().toStringUtf8())).isEqualTo(json.readTree("{\"id\":\"" + id
				+ "\",\"message\":\"Hello, Ada!\",\"greetedAt\":\"2026-05-04T08:15:30Z\"}"));
		Call save = sidecar.nextCall(5, TimeUnit.SECONDS);
		assertThat(save.method()).isEqualTo("SaveState");
		SaveStateRequest saved = save.request(SaveStateRequest.class);
		assertThat(saved.getStoreName()).isEqualTo("greetings");
		StateItem done = saved.getStates(0);
		assertThat(done.getKey()).isEqualTo(id);
		assertThat(done.getEtag().getValue()).as("the etag read").isNotEmpty();
		assertThat(done.getOptions().getConcurrency()).isEqualTo(StateConcurrency.CONCURRENCY_FIRST_WRITE);
		assertThat(done.getMetadataMap()).isEmpty();
		JsonNode stored = json.readTree(sidecar.stored(id));
		assertThat(stored.get("status").asString()).isEqualTo("done");
		assertThat(stored.get("message").asString()).isEqualTo("Hello, Ada!");
		assertThat(stored.get("name").asString()).isEqualTo("Ada");
		assertThat(Instant.parse(stored.get("doneAt").asString()))
			.isAfterOrEqualTo(Instant.parse(stored.get("createdAt").asString()));
		assertThat(this.meters.get(Greetings.COMPLETION_METRIC).timer().count()).isEqualTo(completions + 1);
	}

	@Test
	void takesARedeliveredEventAgainWithoutWritingAnything() throws Exception {
		String id = requestedGreeting();
		deliver("/events/greeting-greeted", greeted(id, "Hello, Ada!"), Map.of());
		sidecar.forgetCalls();

		HttpResponse<String> again = deliver("/events/greeting-greeted", greeted(id, "Hello, Ada!"), Map.of());

		assertThat(json.readTree(again.body())).isEqualTo(json.readTree("{\"status\":\"SUCCESS\"}"));
		assertThat(sidecar.nextCall(5, TimeUnit.SECONDS).method()).isEqualTo("GetState");
		assertThat(sidecar.nextCall(200, TimeUnit.MILLISECONDS)).as("a write").isNull();
	}

	static Stream<String> eventsNeverTaken() {
		String unknown = UUID.randomUUID().toString();
		return Stream.of("{\"id\":", "[1,2]", "\"text\"", greeted(unknown, "Hello, Ada!"),
				event("{\"message\":\"Hi\"}"),
				event("{\"id\":\"not-a-uuid\",\"message\":\"Hi\"}"), event("{\"id\":42,\"message\":\"Hi\"}"),
				event("{\"id\":\"" + unknown + "\"}"), event("{\"id\":\"" + unknown + "\",\"message\":\"  \"}"),
				event("\"{\\\"id\\\":\\\"" + unknown + "\\\",\\\"message\\\":\\\"Hi\\\"}\""), event("null"));
	}

	@ParameterizedTest
	@MethodSource("eventsNeverTaken")
	void dropsAnEventItCanNeverTakeAndWritesNothing(String body) throws Exception {
		HttpResponse<String> answer = deliver("/events/greeting-greeted", body, Map.of());

		assertThat(answer.statusCode()).isEqualTo(200);
		assertThat(json.readTree(answer.body())).isEqualTo(json.readTree("{\"status\":\"DROP\"}"));
		for (Call call = sidecar.nextCall(200, TimeUnit.MILLISECONDS); call != null;
				call = sidecar.nextCall(200, TimeUnit.MILLISECONDS)) {
			assertThat(call.method()).as("a write").isEqualTo("GetState");
		}
	}

	@Test
	void asksForTheEventAgainWhenTheSidecarFails() throws Exception {
		String id = requestedGreeting();
		sidecar.behave(Behaviour.FAIL);

		assertProblem(deliver("/events/greeting-greeted", greeted(id, "Hello, Ada!"), Map.of()), 503);
	}

	@Test
	void answers503WhenTheSidecarFails() throws Exception {
		sidecar.behave(Behaviour.FAIL);

		HttpResponse<String> response = request("{\"name\":\"Ada\"}", Map.of());

		assertProblem(response, 503);
		assertThat(response.headers().firstValue("Retry-After")).hasValue("1");
		assertProblem(get("/greetings/" + UUID.randomUUID()), 503);
	}

	@Test
	void answers503WithinItsBoundWhenTheSidecarHangs() throws Exception {
		sidecar.behave(Behaviour.HANG);
		long started = System.nanoTime();

		HttpResponse<String> response = request("{\"name\":\"Ada\"}", Map.of());

		assertProblem(response, 503);
		// The bound is 1 s here; the stand-in never answers.
		assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));
	}

	static Stream<Arguments> badRequests() {
		String longName = "{\"name\":\"" + "a".repeat(101) + "\"}";
		String hugeBody = "{\"name\":\"" + "a".repeat(9000) + "\"}";
		return Stream.of(Arguments.of("POST", "application/json", "{\"name\":", 400),
				Arguments.of("POST", "application/json", "{}", 400),
				Arguments.of("POST", "application/json", "{\"name\":\"   \"}", 400),
				Arguments.of("POST", "application/json", "{\"name\":42}", 400),
				Arguments.of("POST", "application/json", longName, 400),
				Arguments.of("POST", "application/json", "{\"name\":\"Ada\\nINFO forged\"}", 400),
				Arguments.of("POST", "application/json", hugeBody, 413),
				Arguments.of("POST", "text/plain", "Ada", 415),
				Arguments.of("DELETE", "application/json", "{\"name\":\"Ada\"}", 405));
	}

	@ParameterizedTest
	@MethodSource("badRequests")
	void rejectsBadInputAsGreetDoesAndStoresNothing(String method, String contentType, String body, int status)
			throws Exception {
		HttpResponse<String> response = send(HttpRequest.newBuilder(uri("/greetings"))
			.method(method, BodyPublishers.ofString(body))
			.header("Content-Type", contentType));

		assertProblem(response, status);
		assertThat(sidecar.nextCall(200, TimeUnit.MILLISECONDS)).as("call to the sidecar").isNull();
	}

	@Test
	void answersARetryWithTheSameIdempotencyKeyWithTheSameGreeting() throws Exception {
		String key = "order-" + UUID.randomUUID();

		HttpResponse<String> first = request("{\"name\":\"Ada\"}", Map.of("Idempotency-Key", key));
		HttpResponse<String> retry = request("{\"name\":\"Ada\"}", Map.of("Idempotency-Key", key));

		String id = UUID.nameUUIDFromBytes(("greeting:" + key).getBytes(StandardCharsets.UTF_8)).toString();
		for (HttpResponse<String> response : List.of(first, retry)) {
			assertThat(response.statusCode()).isEqualTo(202);
			assertThat(json.readTree(response.body()).get("id").asString()).isEqualTo(id);
			assertThat(response.headers().firstValue("Location")).hasValue("/greetings/" + id);
		}
		assertThat(List.of(nextMethod(), nextMethod(), nextMethod()))
			.as("one transaction").containsExactly("GetState", "ExecuteStateTransaction", "GetState");
		assertThat(sidecar.nextCall(200, TimeUnit.MILLISECONDS)).as("another call").isNull();
		HttpResponse<String> otherKey = request("{\"name\":\"Ada\"}", Map.of("Idempotency-Key", key + "-2"));
		assertThat(json.readTree(otherKey.body()).get("id").asString()).isNotEqualTo(id);
	}

	@Test
	void refusesAnIdempotencyKeyUsedForAnotherName() throws Exception {
		String key = UUID.randomUUID().toString();
		request("{\"name\":\"Ada\"}", Map.of("Idempotency-Key", key));
		sidecar.forgetCalls();

		HttpResponse<String> refused = request("{\"name\":\"Grace\"}", Map.of("Idempotency-Key", key));

		assertProblem(refused, 422);
		assertThat(refused.body()).as("the names").doesNotContain("Grace").doesNotContain("Ada");
		assertThat(nextMethod()).isEqualTo("GetState");
		assertThat(sidecar.nextCall(200, TimeUnit.MILLISECONDS)).as("a write").isNull();
	}

	@ParameterizedTest
	@ValueSource(strings = { "", "two words", "tab\tbetween" })
	void refusesAnIdempotencyKeyThatIsNotVisibleAscii(String key) throws Exception {
		assertProblem(request("{\"name\":\"Ada\"}", Map.of("Idempotency-Key", key)), 400);
		assertThat(sidecar.nextCall(200, TimeUnit.MILLISECONDS)).as("call to the sidecar").isNull();
	}

	@Test
	void takesIdempotencyKeysOf1To128Characters() throws Exception {
		assertThat(request("{\"name\":\"Ada\"}", Map.of("Idempotency-Key", "!")).statusCode()).isEqualTo(202);
		assertThat(request("{\"name\":\"Ada\"}", Map.of("Idempotency-Key", "~".repeat(128))).statusCode())
			.isEqualTo(202);
		assertProblem(request("{\"name\":\"Ada\"}", Map.of("Idempotency-Key", "k".repeat(129))), 400);
	}

	@Test
	void answers404ForAnUnknownGreetingAnd400ForAnIdThatIsNoUuid() throws Exception {
		assertProblem(get("/greetings/" + UUID.randomUUID()), 404);
		HttpResponse<String> notAUuid = get("/greetings/not-a-uuid");
		assertProblem(notAUuid, 400);
		assertThat(json.readTree(notAUuid.body()).get("detail").asString()).isEqualTo("id must be a UUID");
	}

	@ParameterizedTest
	@ValueSource(strings = { "/events/greeting-greeted", "/events/greeting-dead-letter", "/%65vents/greeting-greeted",
			"/events;x=y/greeting-dead-letter" })
	void refusesEventsWithoutTheAppToken(String path) throws Exception {
		String id = requestedGreeting();
		sidecar.forgetCalls();

		assertProblem(send(eventRequest(path, greeted(id, "Hello, Ada!"))), 401);
		assertProblem(send(eventRequest(path, greeted(id, "Hello, Ada!")).header("dapr-api-token", "wrong")), 401);
		assertThat(sidecar.nextCall(200, TimeUnit.MILLISECONDS)).as("call to the sidecar").isNull();
	}

	@Test
	void listsBothSubscriptionsWithTheirRoutesAndDeadLetterTopic() throws Exception {
		// Dapr's Spring support (1.16) with the SDK (1.17): the sidecar's other start-up query still answers.
		HttpResponse<String> config = get("/dapr/config");
		assertThat(config.statusCode()).as(config.body()).isEqualTo(200);
		assertThat(json.readTree(config.body()).get("entities")).isEmpty();

		HttpResponse<String> response = get("/dapr/subscribe");

		assertThat(response.statusCode()).isEqualTo(200);
		assertThat(json.readTree(response.body())).containsExactlyInAnyOrder(json.readTree(
				"{\"pubsubName\":\"pubsub\",\"topic\":\"greeting.greeted\",\"route\":\"/events/greeting-greeted\","
						+ "\"deadLetterTopic\":\"greeting.dead-letter\",\"metadata\":{}}"),
				json.readTree("{\"pubsubName\":\"pubsub\",\"topic\":\"greeting.dead-letter\","
						+ "\"route\":\"/events/greeting-dead-letter\",\"metadata\":{}}"));
	}

	@Test
	void handsTheCallersTraceToTheSidecar() throws Exception {
		request("{\"name\":\"Ada\"}", Map.of("traceparent", TRACEPARENT));

		assertChildOfTheCallersTrace(sidecar.nextCall(5, TimeUnit.SECONDS).headers().get("traceparent"));
	}

	@Test
	void handsTheEventsTraceToTheSidecarOnEveryCall() throws Exception {
		String id = requestedGreeting();

		deliver("/events/greeting-greeted", greeted(id, "Hello, Ada!"), Map.of("traceparent", TRACEPARENT));

		for (String method : List.of("GetState", "InvokeBinding", "SaveState")) {
			Call call = sidecar.nextCall(5, TimeUnit.SECONDS);
			assertThat(call.method()).isEqualTo(method);
			assertChildOfTheCallersTrace(call.headers().get("traceparent"));
		}
	}

	@Test
	void countsADeadLetterByItsTopicAndFailsItsPendingGreeting() throws Exception {
		String id = requestedGreeting();
		double before = deadLetters("greeting.requested");
		String deadEvent = event("greeting.requested", "{\"id\":\"" + id + "\",\"name\":\"Ada\"}");

		HttpResponse<String> answer = deliver("/events/greeting-dead-letter", deadEvent, Map.of());

		assertThat(json.readTree(answer.body())).isEqualTo(json.readTree("{\"status\":\"SUCCESS\"}"));
		assertThat(deadLetters("greeting.requested")).isEqualTo(before + 1);
		assertThat(json.readTree(get("/greetings/" + id).body()))
			.isEqualTo(json.readTree("{\"id\":\"" + id + "\",\"status\":\"failed\"}"));
	}

	@Test
	void leavesADoneGreetingDoneOnADeadLetter() throws Exception {
		String id = requestedGreeting();
		deliver("/events/greeting-greeted", greeted(id, "Hello, Ada!"), Map.of());

		deliver("/events/greeting-dead-letter", event("greeting.greeted", "{\"id\":\"" + id + "\"}"), Map.of());

		assertThat(json.readTree(get("/greetings/" + id).body()).get("status").asString()).isEqualTo("done");
	}

	@ParameterizedTest
	@ValueSource(strings = { "{\"id\":", "[]", "{\"id\":\"x\",\"data\":{\"id\":\"not-a-uuid\"}}" })
	void takesEveryDeadLetterCountingTheUnreadableAsUnknown(String body) throws Exception {
		double before = deadLetters("unknown");

		HttpResponse<String> answer = deliver("/events/greeting-dead-letter", body, Map.of());

		assertThat(answer.statusCode()).isEqualTo(200);
		assertThat(json.readTree(answer.body())).isEqualTo(json.readTree("{\"status\":\"SUCCESS\"}"));
		assertThat(deadLetters("unknown")).isEqualTo(before + 1);
	}

	@Test
	void takesADeadLetterEvenWhenTheSidecarFails() throws Exception {
		sidecar.behave(Behaviour.FAIL);

		HttpResponse<String> answer = deliver("/events/greeting-dead-letter",
				event("greeting.requested", "{\"id\":\"" + UUID.randomUUID() + "\",\"name\":\"Ada\"}"), Map.of());

		assertThat(json.readTree(answer.body())).isEqualTo(json.readTree("{\"status\":\"SUCCESS\"}"));
	}

	/**
	 * A greeting.greeted event as daprd delivers it: a CloudEvent with its own fields (one, expiration, unknown
	 * to the SDK's CloudEvent type) and the publisher's data.
	 */
	private static String greeted(String id, String message) {
		return event("{\"id\":\"" + id + "\",\"message\":\"" + message + "\"}");
	}

	private static String event(String data) {
		return event("greeting.greeted", data);
	}

	private static String event(String topic, String data) {
		return "{\"id\":\"" + UUID.randomUUID() + "\",\"source\":\"greeter\",\"type\":\"com.dapr.event.sent\","
				+ "\"specversion\":\"1.0\",\"datacontenttype\":\"application/json\",\"data\":" + data
				+ ",\"pubsubname\":\"pubsub\",\"topic\":\"" + topic + "\",\"time\":\"2026-05-04T10:15:30+02:00\","
				+ "\"traceid\":\"" + TRACEPARENT + "\",\"traceparent\":\"" + TRACEPARENT + "\",\"tracestate\":\"\","
				+ "\"expiration\":\"2026-05-04T08:16:30Z\"}";
	}

	private static void assertChildOfTheCallersTrace(String traceparent) {
		assertThat(traceparent).isNotNull();
		String[] parts = traceparent.split("-");
		assertThat(parts).hasSize(4);
		assertThat(parts[1]).as("trace id").isEqualTo(TRACE_ID);
		// The sidecar's span must hang under comms' own server span, not directly under the caller's.
		assertThat(parts[2]).as("parent span id").matches("[0-9a-f]{16}").isNotEqualTo(CALLER_SPAN_ID);
		assertThat(parts[3]).as("sampled").isEqualTo("01");
	}

	private String requestedGreeting() throws Exception {
		HttpResponse<String> response = request("{\"name\":\"Ada\"}", Map.of());
		assertThat(response.statusCode()).isEqualTo(202);
		sidecar.forgetCalls();
		return json.readTree(response.body()).get("id").asString();
	}

	private String nextMethod() throws InterruptedException {
		Call call = sidecar.nextCall(5, TimeUnit.SECONDS);
		return (call != null) ? call.method() : null;
	}

	private double deadLetters(String topic) {
		var counter = this.meters.find(Greetings.DEAD_LETTERS_METRIC).tag("topic", topic).counter();
		return (counter != null) ? counter.count() : 0;
	}

	private static void assertProblem(HttpResponse<String> response, int status) throws Exception {
		assertThat(response.statusCode()).isEqualTo(status);
		assertThat(response.headers().firstValue("Content-Type")).hasValue("application/problem+json");
		JsonNode problem = json.readTree(response.body());
		assertThat(problem.get("status").asInt()).isEqualTo(status);
		assertThat(problem.get("title").asString()).isNotBlank();
		assertThat(problem.get("detail").asString()).isNotBlank();
		assertThat(response.body()).doesNotContain("Exception").doesNotContain("\tat ");
	}

	private HttpResponse<String> request(String body, Map<String, String> headers) throws Exception {
		HttpRequest.Builder request = HttpRequest.newBuilder(uri("/greetings"))
			.header("Content-Type", "application/json")
			.POST(BodyPublishers.ofString(body));
		headers.forEach(request::header);
		return send(request);
	}

	private HttpResponse<String> deliver(String path, String body, Map<String, String> headers) throws Exception {
		HttpRequest.Builder request = eventRequest(path, body).header("dapr-api-token", APP_TOKEN);
		headers.forEach(request::header);
		return send(request);
	}

	/** As daprd delivers an event: a POST of the CloudEvent, typed as one. */
	private HttpRequest.Builder eventRequest(String path, String body) {
		return HttpRequest.newBuilder(uri(path))
			.header("Content-Type", "application/cloudevents+json")
			.POST(BodyPublishers.ofString(body));
	}

	private HttpResponse<String> get(String path) throws Exception {
		return send(HttpRequest.newBuilder(uri(path)).GET());
	}

	private HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
		return http.send(request.timeout(Duration.ofSeconds(30)).build(), BodyHandlers.ofString());
	}

	private URI uri(String path) {
		return URI.create("http://127.0.0.1:" + this.port + path);
	}

}
