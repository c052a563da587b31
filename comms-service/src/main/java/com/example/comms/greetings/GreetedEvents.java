package com.example.comms.greetings;

import io.dapr.Topic;
import io.dapr.client.domain.CloudEvent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.http.MediaType;
import org.springframework.http.converter.HttpMessageNotReadableException;
import org.springframework.web.HttpMediaTypeNotSupportedException;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;

/** greeter's answers, which comms' sidecar delivers from the pub/sub. */
@RestController
class GreetedEvents {

	private static final Logger log = LoggerFactory.getLogger(GreetedEvents.class);

	private final Greetings greetings;

	GreetedEvents(Greetings greetings) {
		this.greetings = greetings;
	}

	@Topic(name = "greeting.greeted", pubsubName = "${comms.greetings.pubsub:pubsub}",
			deadLetterTopic = "greeting.dead-letter")
	@PostMapping(path = "/events/greeting-greeted", produces = MediaType.APPLICATION_JSON_VALUE)
	EventAnswer greeted(@RequestBody CloudEvent<Greeted> event) {
		return this.greetings.greeted(event);
	}

	/** A body that is no CloudEvent of greeter's answer can never be taken: dead-lettered at once, not retried. */
	@ExceptionHandler({ HttpMessageNotReadableException.class, HttpMediaTypeNotSupportedException.class })
	EventAnswer unreadable() {
		log.warn("Dropped an unreadable greeting.greeted event");
		return EventAnswer.DROP;
	}

}
