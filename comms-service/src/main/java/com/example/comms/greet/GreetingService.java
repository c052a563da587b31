package com.example.comms.greet;

import java.net.SocketTimeoutException;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.resilience.annotation.ConcurrencyLimit;
import org.springframework.resilience.annotation.ConcurrencyLimit.ThrottlePolicy;
import org.springframework.stereotype.Service;
import org.springframework.web.client.HttpClientErrorException;

/**
 * The one decision comms makes: greeter's answer, or the fallback. A fallback is a deliberate
 * degradation, so it is also logged, counted and marked as an error on the request's span.
 */
@Service
public class GreetingService {

	static final String FALLBACK_METRIC = "comms.greeter.fallbacks";

	private static final Logger log = LoggerFactory.getLogger(GreetingService.class);

	private final Greeter greeter;

	private final ObservationRegistry observations;

	private final Counter timeouts;

	private final Counter failures;

	private final Counter tokenRefused;

	GreetingService(Greeter greeter, ObservationRegistry observations, MeterRegistry meters) {
		this.greeter = greeter;
		this.observations = observations;
		this.timeouts = fallbackCounter(meters, "timeout");
		this.failures = fallbackCounter(meters, "failure");
		this.tokenRefused = fallbackCounter(meters, "sidecar_token");
	}

	/** Past the limit a request is refused at once (a 503 problem), so that an overload is answered, not queued. */
	@ConcurrencyLimit(limitString = "${comms.greeter.max-concurrent-calls}", policy = ThrottlePolicy.REJECT)
	public GreetResponse greet(String name) {
		try {
			GreeterReply reply = this.greeter.greet(name);
			if (reply == null || reply.message() == null || reply.message().isBlank()) {
				throw new IllegalStateException("greeter answered without a message");
			}
			return GreetResponse.fromGreeter(reply);
		}
		catch (RuntimeException ex) {
			return fallback(name, ex);
		}
	}

	private GreetResponse fallback(String name, RuntimeException ex) {
		// The name stays out of logs and spans: it is the caller's data.
		if (refusedBySidecar(ex)) {
			// Not greeter's outage but comms' own setup: no call can succeed until it is fixed.
			this.tokenRefused.increment();
			log.error("comms' own sidecar refused its API token, answering the fallback: DAPR_API_TOKEN must be "
					+ "the token of the sidecar's dapr.io/api-token-secret");
		}
		else {
			boolean timedOut = causedBy(ex, SocketTimeoutException.class);
			(timedOut ? this.timeouts : this.failures).increment();
			log.warn("greeter unavailable ({}), answering the fallback: {}", timedOut ? "timeout" : "failure",
					ex.toString());
		}
		Observation current = this.observations.getCurrentObservation();
		if (current != null) {
			// Without its stack trace: spans wait in the export queue, and a storm of fallbacks filled the heap.
			current.error(new GreeterUnavailable(ex.toString()));
		}
		return GreetResponse.fallback(name);
	}

	/** What a fallback's span records: greeter's error as text, with no stack trace to export. */
	static final class GreeterUnavailable extends RuntimeException {

		GreeterUnavailable(String message) {
			super(message, null, false, false);
		}

	}

	private static Counter fallbackCounter(MeterRegistry meters, String reason) {
		return Counter.builder(FALLBACK_METRIC)
			.description("Requests answered with the fallback because greeter could not answer")
			.tag("reason", reason)
			.register(meters);
	}

	/** daprd's own refusal of a wrong dapr-api-token: a 401 in plain text (greeter's own 401 is a problem body). */
	private static boolean refusedBySidecar(RuntimeException ex) {
		return ex instanceof HttpClientErrorException.Unauthorized unauthorized
				&& unauthorized.getResponseBodyAsString().startsWith("invalid api token");
	}

	private static boolean causedBy(Throwable ex, Class<? extends Throwable> type) {
		for (Throwable cause = ex; cause != null; cause = cause.getCause()) {
			if (type.isInstance(cause)) {
				return true;
			}
		}
		return false;
	}

}
