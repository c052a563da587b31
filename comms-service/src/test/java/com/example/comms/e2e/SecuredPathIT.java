package com.example.comms.e2e;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.time.Duration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The protections of the request path, with real sidecars: mTLS identities from Sentry, greeter's
 * access-control policy (only comms, only POST /greet; everything else denied), the Dapr API token
 * (app → sidecar) and the app API token (sidecar → greeter).
 */
class SecuredPathIT {

	private static final String GREETING = "{\"message\":\"Hello, Ada!\",\"service\":\"greeter\",\"fallback\":false}";

	@RegisterExtension
	static final RealDaprStack real = new RealDaprStack();

	private final HttpClient http = HttpClient.newHttpClient();

	@Test
	void commsIsAnsweredByGreeterThroughTheSecuredSidecars() throws Exception {
		// The policy denies by default, so this answer means greeter's sidecar knew comms by its certificate.
		RealDaprStack.Greeting greeting = real.greet();

		assertThat(greeting.status()).isEqualTo(200);
		assertThat(greeting.reply()).as(real.stack().logs()).isEqualTo(RealDaprStack.parse(GREETING));
	}

	@Test
	void anotherAppOfTheNamespaceIsRefusedByGreetersSidecar() throws Exception {
		String intruder = real.stack().startIntruderSidecar("greet");

		HttpResponse<String> response = send(post(intruder).header("dapr-api-token", real.stack().apiToken()));

		assertThat(response.statusCode()).as(response.body()).isEqualTo(403);
		assertThat(response.body()).contains("access control policy has denied access");
	}

	@Test
	void commsMayOnlyPostGreet() throws Exception {
		String token = real.stack().apiToken();

		HttpResponse<String> allowed = send(post(real.stack().commsSidecarInvokeUrl("greet")).header("dapr-api-token", token));
		HttpResponse<String> otherVerb = send(HttpRequest.newBuilder(URI.create(real.stack().commsSidecarInvokeUrl("greet")))
			.header("dapr-api-token", token)
			.GET());
		HttpResponse<String> otherMethod = send(post(real.stack().commsSidecarInvokeUrl("greetings")).header("dapr-api-token", token));

		assertThat(allowed.statusCode()).as(allowed.body()).isEqualTo(200);
		assertThat(RealDaprStack.parse(allowed.body())).isEqualTo(RealDaprStack.parse("{\"message\":\"Hello, Ada!\",\"service\":\"greeter\"}"));
		assertThat(otherVerb.statusCode()).as(otherVerb.body()).isEqualTo(403);
		assertThat(otherMethod.statusCode()).as(otherMethod.body()).isEqualTo(403);
	}

	@Test
	void theSidecarsApiWantsTheApiToken() throws Exception {
		HttpResponse<String> none = send(post(real.stack().commsSidecarInvokeUrl("greet")));
		HttpResponse<String> wrong = send(post(real.stack().commsSidecarInvokeUrl("greet")).header("dapr-api-token", "not-the-token"));

		assertThat(none.statusCode()).as(none.body()).isEqualTo(401);
		assertThat(wrong.statusCode()).as(wrong.body()).isEqualTo(401);
	}

	@Test
	void greeterRefusesACallThatDidNotComeThroughItsSidecar() throws Exception {
		HttpResponse<String> response = send(post(real.stack().greeterAppUrl("/greet")));

		assertThat(response.statusCode()).as(response.body()).isEqualTo(401);
		assertThat(response.headers().firstValue("Content-Type")).hasValue("application/problem+json");
		assertThat(response.body()).doesNotContain("Hello");
	}

	private static HttpRequest.Builder post(String url) {
		return HttpRequest.newBuilder(URI.create(url))
			.header("Content-Type", "application/json")
			.POST(BodyPublishers.ofString("{\"name\":\"Ada\"}"));
	}

	private HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
		return this.http.send(request.timeout(Duration.ofSeconds(15)).build(), BodyHandlers.ofString());
	}

}
