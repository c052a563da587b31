package com.example.comms.greet;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse;

import org.junit.jupiter.api.Test;
import tools.jackson.databind.ObjectMapper;

import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;

/** Nothing listens where the sidecar should be: comms still answers, with the fallback. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
		properties = "app.api.token=no-sidecar-test-token")
class CommsWithoutSidecarTest {

	@LocalServerPort
	int port;

	@DynamicPropertySource
	static void pointTheSdkAtAClosedPort(DynamicPropertyRegistry registry) throws IOException {
		int closedPort;
		try (ServerSocket socket = new ServerSocket()) {
			socket.bind(new InetSocketAddress("127.0.0.1", 0));
			closedPort = socket.getLocalPort();
		}
		registry.add("comms.sidecar.http-endpoint", () -> "http://127.0.0.1:" + closedPort);
	}

	@Test
	void fallsBackWhenTheSidecarIsDown() throws Exception {
		HttpResponse<String> response = HttpClient.newHttpClient()
			.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + this.port + "/greet"))
				.header("Content-Type", "application/json")
				.POST(BodyPublishers.ofString("{\"name\":\"Ada\"}"))
				.build(), BodyHandlers.ofString());

		assertThat(response.statusCode()).isEqualTo(200);
		assertThat(new ObjectMapper().readTree(response.body())).isEqualTo(new ObjectMapper().readTree(
				"{\"message\":\"Hello, Ada (from fallback)!\",\"service\":\"comms\",\"fallback\":true,"
						+ "\"error\":\"greeter_unavailable\"}"));
	}

}
