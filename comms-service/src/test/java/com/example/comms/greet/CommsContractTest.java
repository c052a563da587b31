package com.example.comms.greet;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import com.example.comms.greet.SidecarStandIn.Behaviour;
import com.example.comms.greet.SidecarStandIn.Received;
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
 * comms over real HTTP, with a stand-in HTTP server where its Dapr sidecar's HTTP API would be:
 * guards the call to the sidecar (path, dapr-app-id, body, trace context) and the fallback. Real daprd: the e2e tests.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
		properties = { "comms.greeter.timeout=2s", "comms.greeter.max-concurrent-calls=2",
				"app.api.token=contract-test-token" })
@AutoConfigureTracing
class CommsContractTest {

	private static final String TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";

	private static final String CALLER_SPAN_ID = "00f067aa0ba902b7";

	private static final HttpClient http = HttpClient.newHttpClient();

	private static final ObjectMapper json = new ObjectMapper();

	private static final SidecarStandIn sidecar = SidecarStandIn.start();

	@LocalServerPort
	int port;

	@Autowired
	MeterRegistry meters;

	@DynamicPropertySource
	static void pointCommsAtTheStandIn(DynamicPropertyRegistry registry) {
		registry.add("comms.sidecar.http-endpoint", sidecar::endpoint);
	}

	@AfterAll
	static void stopStandIn() {
		sidecar.close();
	}

	@BeforeEach
	void resetStandIn() {
		sidecar.behave(Behaviour.ANSWER);
		sidecar.forgetRequests();
	}

	@Test
	void invokesGreeterThroughTheSidecar() throws Exception {
		HttpResponse<String> response = greet("{\"name\":\"Ada\"}", Map.of());

		assertThat(response.statusCode()).isEqualTo(200);
		assertThat(json.readTree(response.body())).isEqualTo(
				json.readTree("{\"message\":\"Hello, Ada!\",\"service\":\"greeter\",\"fallback\":false}"));
		Received call = sidecar.nextRequest(5, TimeUnit.SECONDS);
		assertThat(call).isNotNull();
		assertThat(call.method()).isEqualTo("POST");
		assertThat(call.path()).isEqualTo("/greet");
		assertThat(call.header("dapr-app-id")).isEqualTo("greeter");
		assertThat(call.header("Content-Type")).startsWith("application/json");
		// daprd retries only a body of known length: a chunked one it streams, and never retries.
		assertThat(call.header("Content-Length")).isEqualTo(String.valueOf(call.body().length()));
		assertThat(json.readTree(call.body())).isEqualTo(json.readTree("{\"name\":\"Ada\"}"));
	}

	@Test
	void passesUnicodeNamesIntact() throws Exception {
		HttpResponse<String> response = greet(json.writeValueAsString(Map.of("name", " Zoë 世界 🎉 ")), Map.of());

		assertThat(json.readTree(response.body()).get("message").asText()).isEqualTo("Hello, Zoë 世界 🎉!");
		assertThat(json.readTree(sidecar.nextRequest(5, TimeUnit.SECONDS).body()).get("name").asText())
			.isEqualTo("Zoë 世界 🎉");
	}

	@Test
	void handsTheCallersTraceToTheSidecar() throws Exception {
		greet("{\"name\":\"Ada\"}", Map.of("traceparent", "00-" + TRACE_ID + "-" + CALLER_SPAN_ID + "-01"));

		String[] traceparent = sidecar.nextRequest(5, TimeUnit.SECONDS).header("traceparent").split("-");
		assertThat(traceparent).hasSize(4);
		assertThat(traceparent[1]).as("trace id").isEqualTo(TRACE_ID);
		// The sidecar's span must hang under comms' own server span, not directly under the caller's.
		assertThat(traceparent[2]).as("parent span id").matches("[0-9a-f]{16}").isNotEqualTo(CALLER_SPAN_ID);
		assertThat(traceparent[3]).as("sampled").isEqualTo("01");
	}

	@Test
	void startsATraceWhenTheCallerSentNone() throws Exception {
		greet("{\"name\":\"Ada\"}", Map.of());

		// Sampled; OpenTelemetry also sets W3C Trace Context 2's "random trace id" flag (02) on ids it makes.
		assertThat(sidecar.nextRequest(5, TimeUnit.SECONDS).header("traceparent"))
			.matches("00-[0-9a-f]{32}-[0-9a-f]{16}-0[13]");
	}

	@Test
	void fallsBackWhenGreeterFails() throws Exception {
		sidecar.behave(Behaviour.FAIL);
		double before = fallbacks("failure");

		HttpResponse<String> response = greet("{\"name\":\"Ada\"}", Map.of());

		assertThat(response.statusCode()).isEqualTo(200);
		assertThat(json.readTree(response.body())).isEqualTo(json.readTree(
				"{\"message\":\"Hello, Ada (from fallback)!\",\"service\":\"comms\",\"fallback\":true,"
						+ "\"error\":\"greeter_unavailable\"}"));
		assertThat(fallbacks("failure")).isEqualTo(before + 1);
	}

	@Test
	void fallsBackWithinItsBoundWhenGreeterHangs() throws Exception {
		sidecar.behave(Behaviour.HANG);
		double before = fallbacks("timeout");
		long started = System.nanoTime();

		HttpResponse<String> response = greet("{\"name\":\"Ada\"}", Map.of());

		Duration took = Duration.ofNanos(System.nanoTime() - started);
		assertThat(json.readTree(response.body()).get("fallback").asBoolean()).isTrue();
		// The bound is 2 s here; the stand-in would hang for 30 s.
		assertThat(took).isLessThan(Duration.ofSeconds(5));
		assertThat(fallbacks("timeout")).isEqualTo(before + 1);
	}

	@Test
	void refusesAtOnceWithAProblemPastItsConcurrencyLimit() throws Exception {
		sidecar.behave(Behaviour.HANG);
		// Two calls (the limit here) wait on greeter, which does not answer; each falls back after 2 s.
		List<CompletableFuture<HttpResponse<String>>> held = List.of(greetAsync(), greetAsync());
		assertThat(sidecar.nextRequest(5, TimeUnit.SECONDS)).isNotNull();
		assertThat(sidecar.nextRequest(5, TimeUnit.SECONDS)).isNotNull();

		HttpResponse<String> refused = greet("{\"name\":\"Ada\"}", Map.of());

		assertProblem(refused, 503);
		assertThat(refused.headers().firstValue("Retry-After")).hasValue("1");
		assertThat(sidecar.nextRequest(200, TimeUnit.MILLISECONDS)).as("call to the sidecar").isNull();
		for (CompletableFuture<HttpResponse<String>> call : held) {
			assertThat(json.readTree(call.get(10, TimeUnit.SECONDS).body()).get("fallback").asBoolean()).isTrue();
		}
		sidecar.behave(Behaviour.ANSWER);
		assertThat(greet("{\"name\":\"Ada\"}", Map.of()).statusCode()).as("once the calls ended").isEqualTo(200);
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
				Arguments.of("POST", "application/json", "{\"name\":\"Ada\\u0000\"}", 400),
				Arguments.of("POST", "application/json", hugeBody, 413),
				Arguments.of("POST", "text/plain", "Ada", 415),
				Arguments.of("GET", "application/json", "{\"name\":\"Ada\"}", 405),
				Arguments.of("DELETE", "application/json", "{\"name\":\"Ada\"}", 405));
	}

	@ParameterizedTest
	@MethodSource("badRequests")
	void rejectsBadInputWithAProblemAndNeverCallsGreeter(String method, String contentType, String body,
			int status) throws Exception {
		HttpResponse<String> response = send(HttpRequest.newBuilder(uri("/greet"))
			.method(method, BodyPublishers.ofString(body))
			.header("Content-Type", contentType));

		assertProblem(response, status);
		assertThat(sidecar.nextRequest(200, TimeUnit.MILLISECONDS)).as("call to the sidecar").isNull();
	}

	@ParameterizedTest
	@ValueSource(strings = { "/", "/greeting", "/v1.0/invoke/greeter/method/greet" })
	void answersUnknownPathsWith404(String path) throws Exception {
		assertProblem(send(HttpRequest.newBuilder(uri(path)).GET()), 404);
	}

	/** Requests Tomcat refuses before Spring sees them: an HTTP client would not send them. */
	static Stream<Arguments> requestsTomcatRefuses() {
		String host = " HTTP/1.1\r\nHost: x\r\n";
		return Stream.of(Arguments.of("GET /gr%eet" + host + "\r\n", 400),
				Arguments.of("GET /a|b" + host + "\r\n", 400),
				Arguments.of("GET /a b" + host + "\r\n", 400),
				Arguments.of("GET /a\u0001b" + host + "\r\n", 400),
				Arguments.of("GET /..;/greet" + host + "\r\n", 400),
				Arguments.of("GET /a%2Fb" + host + "\r\n", 400),
				Arguments.of("G(T /greet" + host + "\r\n", 400),
				Arguments.of("GET /greet" + host + "Bad Header: y\r\n\r\n", 400),
				Arguments.of("GET /greet" + host + "X-A: a\u0001b\r\n\r\n", 400),
				Arguments.of("GET /greet" + host + "X-Big: " + "a".repeat(9000) + "\r\n\r\n", 400),
				Arguments.of("GET /greet HTTP/1.1\r\n\r\n", 400),
				Arguments.of("GET /greet" + host + "Host: y\r\n\r\n", 400),
				Arguments.of("POST /greet" + host + "Content-Length: abc\r\n\r\n", 400),
				Arguments.of("GET /greet HTTX/1.1\r\nHost: x\r\n\r\n", 400),
				Arguments.of("GET /greet HTTP/2.5\r\nHost: x\r\n\r\n", 400), // Tomcat's 505, made a 4xx
				Arguments.of("TRACE /greet" + host + "\r\n", 405),
				Arguments.of("POST /greet" + host + "Transfer-Encoding: gzip\r\n\r\n", 400), // Tomcat's 501, made a 4xx
				Arguments.of("CONNECT x:443" + host + "\r\n", 400), // Tomcat's 501, made a 4xx
				Arguments.of("POST /greet" + host + "Expect: 200-ok\r\nContent-Length: 0\r\n\r\n", 417),
				Arguments.of("POST /greet" + host
						+ "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400));
	}

	@ParameterizedTest
	@MethodSource("requestsTomcatRefuses")
	void answersRequestsTomcatRefusesWithAProblemAndNeverCallsGreeter(String request, int status) throws Exception {
		assertTomcatProblem(request, status);
		assertThat(sidecar.nextRequest(200, TimeUnit.MILLISECONDS)).as("call to the sidecar").isNull();
	}

	@ParameterizedTest
	@ValueSource(strings = { "/health", "/actuator/health/liveness", "/actuator/health/readiness" })
	void reportsHealthWhenReady(String path) throws Exception {
		HttpResponse<String> response = send(HttpRequest.newBuilder(uri(path)).GET());

		assertThat(response.statusCode()).isEqualTo(200);
		assertThat(json.readTree(response.body())).isEqualTo(json.readTree("{\"status\":\"UP\"}"));
	}

	private void assertProblem(HttpResponse<String> response, int status) throws Exception {
		assertProblem(response.statusCode(), response.headers().firstValue("Content-Type").orElse(null),
				response.body(), status);
	}

	private static void assertProblem(int actualStatus, String contentType, String body, int status) throws Exception {
		assertThat(actualStatus).isEqualTo(status);
		assertThat(contentType).isEqualTo("application/problem+json");
		JsonNode problem = json.readTree(body);
		assertThat(problem.get("status").asInt()).isEqualTo(status);
		assertThat(problem.get("title").asText()).isNotBlank();
		assertThat(problem.get("detail").asText()).isNotBlank();
		assertThat(body).doesNotContain("Exception").doesNotContain("\tat ").doesNotContainIgnoringCase("tomcat")
			.doesNotContain("<");
	}

	/** Sends the bytes as they are and reads the answer until Tomcat closes the connection. */
	private void assertTomcatProblem(String request, int status) throws Exception {
		ByteArrayOutputStream received = new ByteArrayOutputStream();
		try (Socket socket = new Socket("127.0.0.1", this.port)) {
			socket.setSoTimeout(10_000);
			socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
			socket.shutdownOutput();
			InputStream in = socket.getInputStream();
			for (int b = in.read(); b != -1; b = in.read()) {
				received.write(b);
			}
		}
		catch (IOException ex) {
			// Tomcat may reset a connection whose request it did not read to the end; what came before counts.
		}
		String[] response = received.toString(StandardCharsets.ISO_8859_1).split("\r\n\r\n", 2);
		String contentType = response[0].lines()
			.filter(line -> line.regionMatches(true, 0, "Content-Type:", 0, 13))
			.map(line -> line.substring(13).strip())
			.findFirst()
			.orElse(null);
		assertProblem(Integer.parseInt(response[0].split(" ")[1]), contentType, response[1], status);
	}

	private double fallbacks(String reason) {
		return this.meters.get(GreetingService.FALLBACK_METRIC).tag("reason", reason).counter().count();
	}

	private HttpResponse<String> greet(String body, Map<String, String> headers) throws Exception {
		HttpRequest.Builder request = HttpRequest.newBuilder(uri("/greet"))
			.header("Content-Type", "application/json")
			.POST(BodyPublishers.ofString(body));
		headers.forEach(request::header);
		return send(request);
	}

	private CompletableFuture<HttpResponse<String>> greetAsync() {
		return http.sendAsync(HttpRequest.newBuilder(uri("/greet"))
			.header("Content-Type", "application/json")
			.POST(BodyPublishers.ofString("{\"name\":\"Ada\"}"))
			.timeout(Duration.ofSeconds(30))
			.build(), BodyHandlers.ofString());
	}

	private HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
		return http.send(request.timeout(Duration.ofSeconds(30)).build(), BodyHandlers.ofString());
	}

	private URI uri(String path) {
		return URI.create("http://127.0.0.1:" + this.port + path);
	}

}
