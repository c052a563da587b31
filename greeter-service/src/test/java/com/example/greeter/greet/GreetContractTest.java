package com.example.greeter.greet;

import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublisher;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

import static org.assertj.core.api.Assertions.assertThat;

/** The contract in the README (section The API), over real HTTP against the running app. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class GreetContractTest {

	private static final HttpClient http = HttpClient.newHttpClient();

	private static final ObjectMapper json = new ObjectMapper();

	@LocalServerPort
	int port;

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
	@ValueSource(strings = { "/", "/greeting", "/greet/extra", "/actuator/env", "/actuator/prometheus", "/dapr/config" })
	void answersUnknownPathsWith404(String path) throws Exception {
		assertProblem(send(HttpRequest.newBuilder(uri(path)).GET()), 404);
	}

	@ParameterizedTest
	@ValueSource(strings = { "/health", "/actuator/health/liveness", "/actuator/health/readiness" })
	void reportsHealthWhenReady(String path) throws Exception {
		HttpResponse<String> response = send(HttpRequest.newBuilder(uri(path)).GET());

		assertThat(response.statusCode()).isEqualTo(200);
		assertThat(json.readTree(response.body())).isEqualTo(json.readTree("{\"status\":\"UP\"}"));
	}

	private void assertProblem(HttpResponse<String> response, int status) throws Exception {
		assertThat(response.statusCode()).isEqualTo(status);
		assertThat(response.headers().firstValue("Content-Type")).hasValue("application/problem+json");
		JsonNode problem = problem(response);
		assertThat(problem.get("status").asInt()).isEqualTo(status);
		assertThat(problem.get("title").asText()).isNotBlank();
		assertThat(problem.get("detail").asText()).isNotBlank();
		assertThat(response.body()).doesNotContain("Exception").doesNotContain("\tat ").doesNotContain("trace");
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

	private HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
		return http.send(request.build(), BodyHandlers.ofString());
	}

	private URI uri(String path) {
		return URI.create("http://127.0.0.1:" + this.port + path);
	}

}
