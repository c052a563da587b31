package com.example.comms.system;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse.BodyHandlers;
import java.util.concurrent.TimeUnit;

import com.example.comms.greetings.DaprSidecarStandIn;
import com.example.comms.greetings.DaprSidecarStandIn.Call;
import io.micrometer.core.instrument.MeterRegistry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.availability.ApplicationAvailability;
import org.springframework.boot.availability.ReadinessState;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;

/** comms serves its own path before it is ready, none of it timed or traced, and nothing stored or published. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
		properties = { "app.api.token=warm-up-test-token", "comms.warm-up.requests=50",
				// Spring Boot logs the change of readiness at debug level.
				"logging.level.org.springframework.boot.availability=debug" })
@ExtendWith(OutputCaptureExtension.class)
class WarmUpTest {

	@Autowired
	ApplicationAvailability availability;

	@Autowired
	MeterRegistry meters;

	@LocalServerPort
	int port;

	private static final DaprSidecarStandIn sidecar = DaprSidecarStandIn.start();

	@DynamicPropertySource
	static void pointTheDaprClientAtTheStandIn(DynamicPropertyRegistry registry) {
		registry.add("comms.sidecar.grpc-port", sidecar::port);
	}

	@AfterAll
	static void stopStandIn() {
		sidecar.close();
	}

	@Test
	void servedItsOwnGreetingsBeforeItWasReadyUnobserved(CapturedOutput output) throws Exception {
		assertThat(this.availability.getReadinessState()).isEqualTo(ReadinessState.ACCEPTING_TRAFFIC);
		assertThat(output.getOut()).containsSubsequence("warmed up with 50 requests",
				"ReadinessState changed to ACCEPTING_TRAFFIC");
		assertThat(this.meters.find("http.server.request.duration").timers()).as("timed requests").isEmpty();

		// A request after it is: timed.
		HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + this.port + "/greet"))
			.header("Content-Type", "application/json")
			.POST(BodyPublishers.ofString("{\"name\":\" \"}"))
			.build();
		try (HttpClient http = HttpClient.newHttpClient()) {
			http.send(request, BodyHandlers.discarding());
		}
		assertThat(this.meters.get("http.server.request.duration").timer().count()).isEqualTo(1);
	}

	@Test
	void readOnceThroughTheSidecarAndStoredOrPublishedNothing() throws Exception {
		assertThat(this.availability.getReadinessState()).isEqualTo(ReadinessState.ACCEPTING_TRAFFIC);
		assertThat(sidecar.nextCall(5, TimeUnit.SECONDS)).as("the warm-up's read").extracting(Call::method)
			.isEqualTo("GetState");
		assertThat(sidecar.nextCall(200, TimeUnit.MILLISECONDS)).as("another call to the sidecar's gRPC API").isNull();
	}

}
