package com.example.greeter.greet;

import java.util.Arrays;
import java.util.stream.Collectors;

import io.dapr.Topic;
import io.dapr.client.domain.CloudEvent;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.validation.Validator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.converter.HttpMessageNotReadableException;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ResponseStatusException;

/**
 * The greeting.requested events greeter's sidecar delivers (at least once): each is greeted as
 * {@code POST /greet} would greet it, and the message published as greeting.greeted. Doing it again for a
 * redelivered event publishes the same message again, which comms takes as already done.
 */
@RestController
class GreetingRequestedController {

	private static final Logger log = LoggerFactory.getLogger(GreetingRequestedController.class);

	private final Validator validator;

	private final GreetedPublisher publisher;

	private final Counter greeted;

	private final Counter dropped;

	GreetingRequestedController(Validator validator, GreetedPublisher publisher, MeterRegistry meters) {
		this.validator = validator;
		this.publisher = publisher;
		this.greeted = outcome(meters, "greeted");
		this.dropped = outcome(meters, "dropped");
	}

	@Topic(name = "greeting.requested", pubsubName = "${greeter.events.pubsub:pubsub}",
			deadLetterTopic = "greeting.dead-letter")
	@PostMapping(path = "/events/greeting-requested", produces = MediaType.APPLICATION_JSON_VALUE)
	EventStatus greetingRequested(@RequestBody CloudEvent<GreetingRequested> event) {
		GreetingRequested data = event.getData();
		if (data == null) {
			return drop("event " + event.getId(), "it has no data");
		}
		GreetRequest request = data.request();
		String invalid = violations(data, request);
		if (!invalid.isEmpty()) {
			return drop("event " + event.getId(), invalid);
		}
		String message = GreetResponse.to(request.name()).message();
		try {
			this.publisher.publish(new GreetingGreeted(data.id(), message));
		}
		catch (RuntimeException ex) {
			log.warn("could not publish the greeting of event {}: {}", event.getId(), ex.toString());
			throw new ResponseStatusException(HttpStatus.SERVICE_UNAVAILABLE,
					"The greeting could not be published now; the event should be delivered again", ex);
		}
		this.greeted.increment();
		return EventStatus.SUCCESS;
	}

	/** A body that is not a CloudEvent with such data will never be one: no id can be read from it. */
	@ExceptionHandler(HttpMessageNotReadableException.class)
	EventStatus malformed() {
		return drop("an event", "it is not a CloudEvent whose data is {\"id\", \"name\"}");
	}

	private EventStatus drop(String event, String reason) {
		log.warn("dropped {}: {}", event, reason);
		this.dropped.increment();
		return EventStatus.DROP;
	}

	/** The rules broken, never the values that broke them: a name is personal data. */
	private String violations(Object... checked) {
		return Arrays.stream(checked)
			.flatMap(object -> this.validator.validate(object).stream())
			.map(violation -> violation.getPropertyPath() + " " + violation.getMessage())
			.sorted()
			.collect(Collectors.joining("; "));
	}

	private static Counter outcome(MeterRegistry meters, String outcome) {
		return Counter.builder("greeter.events")
			.description("greeting.requested events taken, by outcome")
			.tag("outcome", outcome)
			.register(meters);
	}

}
