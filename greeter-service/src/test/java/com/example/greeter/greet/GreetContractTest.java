package com.example.greeter.greet;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest.BodyPublisher;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;

/** The contract in greeter-service/README.md, over real HTTP against the running app. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@ExtendWith(OutputCaptureExtension.class)
class GreetContractTest {

	/** What greeter's Dapr sidecar sends in dapr-api-token; new each run. */
	private static final String TOKEN = UUID.randomUUID().toString();

	private static final HttpClient http = HttpClient.newHttpClient();

	private static final ObjectMapper json = new ObjectMapper();

	@LocalServerPort
	int port;

	@DynamicPropertySource
	static void apiToken(DynamicPropertyRegistry registry) {
		registry.add("app.api.token", () -> TOKEN);
	}

	@Test
	void greetsByName() throws Exception {
		HttpResponse<String> response = postJson("{\"name\":\"Ada\"}");

		assertThat(response.statusCode()).isEqualTo(200);
		assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(
				type -> assertThat(type).startsWith("application/json"));
		assertThat(json.readTree(response.body()))
			.isEqualTo(json.readTree("{\"message\":\"Hello, Ada!\",\"service\":\"greeter\"}"));
	}

	@ParameterizedTest
	@ValueSource(strings = { "世界", "Zoë", "🎉", "👩‍👩‍👧", "Ada Lovelace", "O'Brien-Ñúñez" })
	void welcomesUnicodeNames(String name) throws Exception {
		HttpResponse<String> response = postJson(body(name));

		assertThat(response.statusCode()).isEqualTo(200);
		assertThat(json.readTree(response.body()).get("message").asText()).isEqualTo("Hello, " + name + "!");
	}

	@Test
	void trimsTheNameBeforeGreeting() throws Exception {
		HttpResponse<String> response = postJson(body("  \tAda \n"));

		assertThat(response.statusCode()).isEqualTo(200);
		assertThat(json.readTree(response.body()).get("message").asText()).isEqualTo("Hello, Ada!");
	}

	@Test
	void accepts100CharacterName() throws Exception {
		assertThat(postJson(body("a".repeat(100))).statusCode()).isEqualTo(200);
	}

	@Test
	void counts100EmojiAs100Characters() throws Exception {
		assertThat(postJson(body("🎉".repeat(100))).statusCode()).isEqualTo(200);
	}

	@Test
	void rejectsNameLongerThan100Characters() throws Exception {
		HttpResponse<String> response = postJson(body("a".repeat(101)));

		assertProblem(response, 400);
		assertThat(problem(response).get("detail").asText()).contains("name").contains("100");
	}

	@ParameterizedTest
	@ValueSource(strings = { "Ada\nINFO forged log line", "Ada\rBob", "Ada\u0000", "Ada\u001b[31m", "Ada\u007f",
			"Ada\u0085Bob", "Ada\u2028Bob", "Ada\u2029Bob" })
	void rejectsControlCharacters(String name) throws Exception {
		HttpResponse<String> response = postJson(body(name));

		assertProblem(response, 400);
		assertThat(problem(response).get("detail").asText()).contains("control characters");
	}

	@Test
	void rejectsLoneSurrogate() throws Exception {
		assertProblem(postJson("{\"name\":\"Ada\\ud800\"}"), 400);
	}

	@ParameterizedTest
	@ValueSource(strings = { "{}", "{\"name\":null}", "{\"name\":\"\"}", "{\"name\":\"   \"}", "{\"name\":42}",
			"{\"name\":true}", "{\"name\":[\"Ada\"]}", "{\"name\":{\"first\":\"Ada\"}}",
			"{\"name\":\"Ada\",\"name\":\"Bob\"}" })
	void rejectsMissingEmptyOrNonTextName(String requestBody) throws Exception {
		assertProblem(postJson(requestBody), 400);
	}

	@ParameterizedTest
	@ValueSource(strings = { "", "{", "{\"name\":\"Ada\"", "name=Ada", "[\"Ada\"]", "null", "\"Ada\"" })
	void rejectsMalformedJson(String requestBody) throws Exception {
		assertProblem(postJson(requestBody), 400);
	}

	@Test
	void rejectsBodyOver8KiB() throws Exception {
		HttpResponse<String> response = postJson(body("a".repeat(9000)));

		assertProblem(response, 413);
	}

	@Test
	void rejectsChunkedBodyOver8KiB() throws Exception {
		byte[] big = body("a".repeat(9000)).getBytes(StandardCharsets.UTF_8);
		// A body of unknown length is sent chunked: the limit must hold while reading, too.
		HttpResponse<String> response = send(post("/greet", "application/json",
				BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(big))));

		assertProblem(response, 413);
	}

	@Test
	void acceptsBodyJustUnder8KiB() throws Exception {
		String padded = "{\"name\":\"Ada\"," + "\"pad\":\"" + "x".repeat(8000) + "\"}";
		assertThat(padded.length()).isLessThan(8192);

		assertThat(postJson(padded).statusCode()).isEqualTo(200);
	}

	@ParameterizedTest
	@ValueSource(strings = { "text/plain", "application/x-www-form-urlencoded", "application/xml" })
	void rejectsBodiesThatAreNotJson(String contentType) throws Exception {
		HttpResponse<String> response = send(post("/greet", contentType, BodyPublishers.ofString("name=Ada")));

		assertProblem(response, 415);
	}

	@ParameterizedTest
	@ValueSource(strings = { "GET", "PUT", "DELETE", "PATCH" })
	void rejectsOtherMethods(String method) throws Exception {
		HttpResponse<String> response = send(HttpRequest.newBuilder(uri("/greet"))
			.method(method, BodyPublishers.ofString(body("Ada")))
			.header("Content-Type", "application/json"));

		assertProblem(response, 405);
	}

	@ParameterizedTest
	@ValueSource(strings = { "/", "/greeting", "/greet/extra", "/actuator/env", "/actuator/prometheus" })
	void answersUnknownPathsWith404(String path) throws Exception {
		assertProblem(send(HttpRequest.newBuilder(uri(path)).GET()), 404);
	}

	@ParameterizedTest
	@ValueSource(strings = { "", "wrong", "x" })
	void refusesCallsWithoutTheSidecarsToken(String token, CapturedOutput output) throws Exception {
		HttpRequest.Builder request = post("/greet", "application/json", BodyPublishers.ofString(body("Ada")));
		if (!token.isEmpty()) {
			request.header("dapr-api-token", token);
		}

		HttpResponse<String> response = http.send(request.build(), BodyHandlers.ofString());

		assertProblem(response, 401);
		assertThat(response.body()).doesNotContain(TOKEN);
		assertThat(output).doesNotContain(TOKEN);
	}

	@Test
	void refusesATokenThatOnlyStartsRight() throws Exception {
		HttpResponse<String> response = http.send(post("/greet", "application/json", BodyPublishers.ofString(body("Ada")))
			.header("dapr-api-token", TOKEN + "x")
			.build(), BodyHandlers.ofString());

		assertProblem(response, 401);
	}

	@Test
	void refusesCallsWithoutTheTokenBeforeLookingAtTheBody() throws Exception {
		// Were the body's size checked first, this would be a 413.
		HttpResponse<String> response = http.send(
				post("/greet", "application/json", BodyPublishers.ofString(body("a".repeat(9000)))).build(),
				BodyHandlers.ofString());

		assertProblem(response, 401);
	}

	@ParameterizedTest
	@ValueSource(strings = { "/actuator/env", "/greeting", "/healthz", "/health/extra", "/actuator/healthy" })
	void refusesEveryOtherPathWithoutTheToken(String path) throws Exception {
		assertProblem(http.send(HttpRequest.newBuilder(uri(path)).GET().build(), BodyHandlers.ofString()), 401);
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
				Arguments.of("POST /greet" + host + "dapr-api-token: " + TOKEN
						+ "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400));
	}

	@ParameterizedTest
	@MethodSource("requestsTomcatRefuses")
	void answersRequestsTomcatRefusesWithAProblem(String request, int status) throws Exception {
		assertTomcatProblem(request, status);
	}

	@ParameterizedTest
	@ValueSource(strings = { "/health", "/actuator/health/liveness", "/actuator/health/readiness" })
	void reportsHealthWhenReadyWithoutAToken(String path) throws Exception {
		HttpResponse<String> response = http.send(HttpRequest.newBuilder(uri(path)).GET().build(),
				BodyHandlers.ofString());

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
		assertThat(body).doesNotContain("Exception").doesNotContain("\tat ").doesNotContain("trace")
			.doesNotContainIgnoringCase("tomcat").doesNotContain("<");
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

	private static JsonNode problem(HttpResponse<String> response) throws Exception {
		return json.readTree(response.body());
	}

	private static String body(String name) throws Exception {
		return json.writeValueAsString(java.util.Map.of("name", name));
	}

	private HttpResponse<String> postJson(String requestBody) throws Exception {
		return send(post("/greet", "application/json", BodyPublishers.ofString(requestBody)));
	}

	private HttpRequest.Builder post(String path, String contentType, BodyPublisher body) {
		return HttpRequest.newBuilder(uri(path)).header("Content-Type", contentType).POST(body);
	}

	/** A call as greeter's sidecar makes it: with the token. */
	private HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
		return http.send(request.header("dapr-api-token", TOKEN).build(), BodyHandlers.ofString());
	}

	private URI uri(String path) {
		return URI.create("http://127.0.0.1:" + this.port + path);
	}

}
