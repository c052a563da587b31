package com.example.greeter.greet;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;

import com.example.greeter.system.DaprTraceContext;
import io.dapr.client.domain.CloudEvent;
import io.micrometer.core.instrument.MeterRegistry;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import reactor.util.context.ContextView;
import tools.jackson.core.type.TypeReference;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.micrometer.tracing.test.autoconfigure.AutoConfigureTracing;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Primary;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * greeting.requested events as greeter's sidecar delivers them, over real HTTP, with a fake in place of
 * the sidecar's publishing API.
 */
// Spring Boot's tests turn tracing export off, and W3C propagation with it: on, as in the app.
@AutoConfigureTracing
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
		properties = { "app.api.token=" + GreetingRequestedTest.TOKEN, "app.warm-up.requests=0" })
@ExtendWith(OutputCaptureExtension.class)
class GreetingRequestedTest {

	static final String TOKEN = "greeting-requested-test-token";

	/** What daprd sends in the event and in the request's traceparent: the trace comms started. */
	private static final String TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";

	private static final String TRACEPARENT = "00-" + TRACE_ID + "-00f067aa0ba902b7-01";

	private static final HttpClient http = HttpClient.newHttpClient();

	private static final ObjectMapper plainJson = new ObjectMapper();

	@Autowired
	RecordingPublisher publisher;

	@Autowired
	MeterRegistry meters;

	/** The mapper Spring MVC reads request bodies with: strict about duplicates and text. */
	@Autowired
	ObjectMapper json;

	@LocalServerPort
	int port;

	@BeforeEach
	void sidecarTakesEvents() {
		this.publisher.published.clear();
		this.publisher.failure = null;
	}

	@Test
	void readsTheSidecarsCloudEventWithSpringsJsonSettings() {
		String id = UUID.randomUUID().toString();

		CloudEvent<GreetingRequested> event = this.json.readValue(event(id, Map.of("id", id, "name", "Ada")),
				new TypeReference<CloudEvent<GreetingRequested>>() {
				});

		assertThat(event.getId()).isEqualTo("event-" + id);
		assertThat(event.getData()).isEqualTo(new GreetingRequested(id, "Ada"));
		assertThat(event.getTopic()).isEqualTo("greeting.requested");
		assertThat(event.getPubsubName()).isEqualTo("pubsub");
		assertThat(event.getType()).isEqualTo("com.dapr.event.sent");
		assertThat(event.getDatacontenttype()).isEqualTo("application/json");
		assertThat(event.getTraceParent()).isEqualTo(TRACEPARENT);
		assertThat(event.getTime()).isEqualTo(OffsetDateTime.of(2026, 12, 7, 20, 2, 20, 123456789, ZoneOffset.UTC));
	}

	@Test
	void greetsAndPublishesGreetingGreetedInTheSameTrace() throws Exception {
		String id = UUID.randomUUID().toString();
		double greetedBefore = count("greeted");

		HttpResponse<String> response = deliver(event(id, Map.of("id", id, "name", "  Ada ")));

		assertStatus(response, "SUCCESS");
		assertThat(this.publisher.published).containsExactly(new GreetingGreeted(id, "Hello, Ada!"));
		assertThat(count("greeted")).isEqualTo(greetedBefore + 1);
		// greeter's server span continues the trace daprd delivered: the sidecar gets it with the publish.
		assertThat(this.publisher.traceContext.getOrEmpty("traceparent")).hasValueSatisfying(
				traceparent -> assertThat(traceparent.toString()).startsWith("00-" + TRACE_ID + "-")
					.doesNotContain("00f067aa0ba902b7")
					.endsWith("-01"));
	}

	@Test
	void publishesTheSameGreetingWhenTheEventIsDeliveredAgain() throws Exception {
		String id = UUID.randomUUID().toString();
		String event = event(id, Map.of("id", id, "name", "Ada"));

		assertStatus(deliver(event), "SUCCESS");
		assertStatus(deliver(event), "SUCCESS");

		assertThat(this.publisher.published).containsExactly(new GreetingGreeted(id, "Hello, Ada!"),
				new GreetingGreeted(id, "Hello, Ada!"));
	}

	@ParameterizedTest
	@ValueSource(strings = { "", "{", "[]", "null", "\"Ada\"", "name=Ada",
			"{\"id\":\"e\",\"data\":{\"id\":\"3f1c1f8e-7a4e-4c33-9a51-0f1b3c1e2d4a\",\"name\":42}}",
			"{\"id\":\"e\",\"data\":{\"id\":\"3f1c1f8e-7a4e-4c33-9a51-0f1b3c1e2d4a\",\"name\":\"Ada\",\"name\":\"Bob\"}}",
			"{\"id\":\"e\",\"data\":\"{\\\"id\\\":\\\"3f1c1f8e-7a4e-4c33-9a51-0f1b3c1e2d4a\\\"}\"}" })
	void dropsMalformedEvents(String body) throws Exception {
		double droppedBefore = count("dropped");

		assertStatus(deliver(body), "DROP");

		assertThat(this.publisher.published).isEmpty();
		assertThat(count("dropped")).isEqualTo(droppedBefore + 1);
	}

	@ParameterizedTest
	@ValueSource(strings = { "", "   ", "Ada\nINFO forged log line", "Ada\u2028Bob" })
	void dropsEventsWithANameGreetRefuses(String name, CapturedOutput output) throws Exception {
		String id = UUID.randomUUID().toString();

		assertStatus(deliver(event(id, Map.of("id", id, "name", name))), "DROP");

		assertThat(this.publisher.published).isEmpty();
		assertThat(output).contains("dropped event event-" + id + ": name ");
	}

	@Test
	void dropsEventsWithANameTooLong(CapturedOutput output) throws Exception {
		String id = UUID.randomUUID().toString();
		String name = "Lovelace".repeat(13);

		assertStatus(deliver(event(id, Map.of("id", id, "name", name))), "DROP");

		assertThat(this.publisher.published).isEmpty();
		// Its id says which event it was; the name, personal data, is never logged.
		assertThat(output).contains("dropped event event-" + id + ": name must be 1 to 100 characters")
			.doesNotContain(name);
	}

	@ParameterizedTest
	@ValueSource(strings = { "{\"name\":\"Ada\"}", "{\"id\":\"not-a-uuid\",\"name\":\"Ada\"}",
			"{\"id\":\"3f1c1f8e7a4e4c339a510f1b3c1e2d4a\",\"name\":\"Ada\"}", "{\"id\":\"3f1c1f8e-7a4e-4c33-9a51-0f1b3c1e2d4a\"}" })
	void dropsEventsWithoutAUuidOrAName(String data) throws Exception {
		assertStatus(deliver(event("x", plainJson.readValue(data, Map.class))), "DROP");

		assertThat(this.publisher.published).isEmpty();
	}

	@Test
	void dropsEventsWithoutData() throws Exception {
		assertStatus(deliver("{\"id\":\"e\",\"specversion\":\"1.0\",\"type\":\"com.dapr.event.sent\"}"), "DROP");
	}

	@Test
	void answers503WhenTheSidecarDoesNotTakeTheGreeting() throws Exception {
		this.publisher.failure = new IllegalStateException("Timeout on blocking read for 2000000000 NANOSECONDS");
		String id = UUID.randomUUID().toString();
		double greetedBefore = count("greeted");

		HttpResponse<String> response = deliver(event(id, Map.of("id", id, "name", "Ada")));

		assertThat(response.statusCode()).isEqualTo(503);
		assertThat(response.headers().firstValue("Content-Type")).hasValue("application/problem+json");
		JsonNode problem = plainJson.readTree(response.body());
		assertThat(problem.get("status").asInt()).isEqualTo(503);
		assertThat(problem.get("detail").asText()).isNotBlank();
		assertThat(response.body()).doesNotContain("Exception").doesNotContain("Timeout");
		assertThat(count("greeted")).isEqualTo(greetedBefore);
	}

	@Test
	void refusesEventsWithoutTheSidecarsToken() throws Exception {
		String id = UUID.randomUUID().toString();

		HttpResponse<String> response = http.send(HttpRequest.newBuilder(uri("/events/greeting-requested"))
			.header("Content-Type", "application/cloudevents+json")
			.POST(BodyPublishers.ofString(event(id, Map.of("id", id, "name", "Ada"))))
			.build(), BodyHandlers.ofString());

		assertThat(response.statusCode()).isEqualTo(401);
		assertThat(this.publisher.published).isEmpty();
	}

	@Test
	void listsTheSubscriptionWithItsDeadLetterTopicForTheSidecar() throws Exception {
		HttpResponse<String> response = http.send(HttpRequest.newBuilder(uri("/dapr/subscribe"))
			.header("dapr-api-token", TOKEN)
			.GET()
			.build(), BodyHandlers.ofString());

		assertThat(response.statusCode()).isEqualTo(200);
		JsonNode subscriptions = plainJson.readTree(response.body());
		assertThat(subscriptions.isArray()).isTrue();
		assertThat(subscriptions).singleElement().satisfies(subscription -> {
			assertThat(subscription.get("pubsubName").asText()).isEqualTo("pubsub");
			assertThat(subscription.get("topic").asText()).isEqualTo("greeting.requested");
			assertThat(subscription.get("route").asText()).isEqualTo("/events/greeting-requested");
			assertThat(subscription.get("deadLetterTopic").asText()).isEqualTo("greeting.dead-letter");
		});
	}

	/** A greeting.requested event as daprd delivers it from comms' outbox. */
	private static String event(String id, Map<?, ?> data) {
		return plainJson.writeValueAsString(Map.ofEntries(Map.entry("id", "event-" + id),
				Map.entry("source", "comms"), Map.entry("type", "com.dapr.event.sent"), Map.entry("specversion", "1.0"),
				Map.entry("datacontenttype", "application/json"), Map.entry("data", data),
				Map.entry("topic", "greeting.requested"), Map.entry("pubsubname", "pubsub"),
				Map.entry("traceid", TRACEPARENT), Map.entry("traceparent", TRACEPARENT), Map.entry("tracestate", ""),
				Map.entry("time", "2026-12-07T20:02:20.123456789Z"), Map.entry("expiration", "2026-12-07T20:12:20Z")));
	}

	private HttpResponse<String> deliver(String body) throws Exception {
		return http.send(HttpRequest.newBuilder(uri("/events/greeting-requested"))
			.header("Content-Type", "application/cloudevents+json")
			.header("dapr-api-token", TOKEN)
			.header("traceparent", TRACEPARENT)
			.POST(BodyPublishers.ofString(body))
			.build(), BodyHandlers.ofString());
	}

	private static void assertStatus(HttpResponse<String> response, String status) throws Exception {
		assertThat(response.statusCode()).isEqualTo(200);
		assertThat(plainJson.readTree(response.body())).isEqualTo(plainJson.readTree("{\"status\":\"" + status + "\"}"));
	}

	private double count(String outcome) {
		return this.meters.get("greeter.events").tag("outcome", outcome).counter().count();
	}

	private URI uri(String path) {
		return URI.create("http://127.0.0.1:" + this.port + path);
	}

	@TestConfiguration(proxyBeanMethods = false)
	static class FakeSidecar {

		@Bean
		@Primary
		RecordingPublisher recordingPublisher(DaprTraceContext traceContext) {
			return new RecordingPublisher(traceContext);
		}

	}

	/** Takes greetings as greeter's sidecar would, or fails as it would when down; notes the trace of each. */
	static final class RecordingPublisher implements GreetedPublisher {

		final List<GreetingGreeted> published = new CopyOnWriteArrayList<>();

		volatile RuntimeException failure;

		volatile ContextView traceContext;

		private final DaprTraceContext trace;

		RecordingPublisher(DaprTraceContext trace) {
			this.trace = trace;
		}

		@Override
		public void publish(GreetingGreeted greeted) {
			this.traceContext = this.trace.current();
			if (this.failure != null) {
				throw this.failure;
			}
			this.published.add(greeted);
		}

	}

}
