package com.example.comms.greet;

import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationRegistry;
import org.junit.jupiter.api.Test;

import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.web.client.HttpClientErrorException;
import org.springframework.web.client.ResourceAccessException;

import static org.assertj.core.api.Assertions.assertThat;

/** The call-or-fall-back decision, without a web server or a sidecar. */
class GreetingServiceTest {

	private final MeterRegistry meters = new SimpleMeterRegistry();

	private final ObservationRegistry observations = ObservationRegistry.create();

	@Test
	void answersWithGreetersReply() {
		GreetingService service = service(name -> new GreeterReply("Hello, " + name + "!", "greeter"));

		assertThat(service.greet("Ada")).isEqualTo(new GreetResponse("Hello, Ada!", "greeter", false, null));
		assertThat(fallbacks("failure") + fallbacks("timeout")).isZero();
	}

	@Test
	void fallsBackWhenGreeterFails() {
		GreetingService service = service(name -> {
			throw new IllegalStateException("connection refused");
		});

		assertThat(service.greet("Ada")).isEqualTo(
				new GreetResponse("Hello, Ada (from fallback)!", "comms", true, "greeter_unavailable"));
		assertThat(fallbacks("failure")).isEqualTo(1);
		assertThat(fallbacks("timeout")).isZero();
	}

	@Test
	void countsATimeoutApartFromOtherFailures() {
		GreetingService service = service(name -> {
			// What RestClient throws when the sidecar does not answer within comms' bound.
			throw new ResourceAccessException("I/O error on POST request", new SocketTimeoutException("Read timed out"));
		});

		assertThat(service.greet("Ada").fallback()).isTrue();
		assertThat(fallbacks("timeout")).isEqualTo(1);
		assertThat(fallbacks("failure")).isZero();
	}

	@Test
	void countsItsOwnSidecarRefusingItsTokenApartFromGreetersOutages() {
		// What daprd answers to a wrong dapr-api-token, and what greeter answers (through the sidecars) to a wrong app token.
		GreetingService refusedBySidecar = service(name -> {
			throw HttpClientErrorException.create(HttpStatus.UNAUTHORIZED, "Unauthorized", HttpHeaders.EMPTY,
					"invalid api token\n".getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8);
		});
		GreetingService refusedByGreeter = service(name -> {
			throw HttpClientErrorException.create(HttpStatus.UNAUTHORIZED, "Unauthorized", HttpHeaders.EMPTY,
					"{\"status\":401}".getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8);
		});

		assertThat(refusedBySidecar.greet("Ada").fallback()).isTrue();
		assertThat(refusedByGreeter.greet("Ada").fallback()).isTrue();
		assertThat(fallbacks("sidecar_token")).isEqualTo(1);
		assertThat(fallbacks("failure")).isEqualTo(1);
	}

	@Test
	void fallsBackWhenGreeterAnswersWithoutAMessage() {
		GreetingService service = service(name -> new GreeterReply(null, "greeter"));

		assertThat(service.greet("Ada").fallback()).isTrue();
		assertThat(fallbacks("failure")).isEqualTo(1);
	}

	@Test
	void marksTheRequestsObservationAsAnErrorOnFallback() {
		GreetingService service = service(name -> {
			throw new IllegalStateException("greeter down");
		});
		Observation request = Observation.start("http.server.requests", this.observations);

		try (Observation.Scope scope = request.openScope()) {
			service.greet("Ada");
		}
		finally {
			request.stop();
		}

		// greeter's error as text, without a stack trace to hold in the span export queue.
		assertThat(request.getContext().getError()).isInstanceOf(GreetingService.GreeterUnavailable.class)
			.hasMessage("java.lang.IllegalStateException: greeter down");
		assertThat(request.getContext().getError().getStackTrace()).isEmpty();
	}

	@Test
	void leavesTheObservationCleanWhenGreeterAnswers() {
		GreetingService service = service(name -> new GreeterReply("Hello, Ada!", "greeter"));
		Observation request = Observation.start("http.server.requests", this.observations);

		try (Observation.Scope scope = request.openScope()) {
			service.greet("Ada");
		}
		finally {
			request.stop();
		}

		assertThat(request.getContext().getError()).isNull();
	}

	private GreetingService service(Greeter greeter) {
		this.observations.observationConfig().observationHandler(context -> true);
		return new GreetingService(greeter, this.observations, this.meters);
	}

	private double fallbacks(String reason) {
		return this.meters.get(GreetingService.FALLBACK_METRIC).tag("reason", reason).counter().count();
	}

}
