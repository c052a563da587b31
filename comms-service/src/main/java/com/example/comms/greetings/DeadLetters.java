package com.example.comms.greetings;

import io.dapr.Topic;
import io.dapr.client.domain.CloudEvent;
import tools.jackson.databind.JsonNode;

import org.springframework.http.MediaType;
import org.springframework.http.converter.HttpMessageNotReadableException;
import org.springframework.web.HttpMediaTypeNotSupportedException;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;

/**
 * The events that either app's subscription could not take. Their data is any JSON: a dead letter may
 * be malformed, which is why it is one.
 */
@RestController
class DeadLetters {

	private final Greetings greetings;

	DeadLetters(Greetings greetings) {
		this.greetings = greetings;
	}

	@Topic(name = "greeting.dead-letter", pubsubName = "${comms.greetings.pubsub:pubsub}")
	@PostMapping(path = "/events/greeting-dead-letter", produces = MediaType.APPLICATION_JSON_VALUE)
	EventAnswer deadLetter(@RequestBody CloudEvent<JsonNode> event) {
		return this.greetings.deadLetter(event);
	}

	/** Not even a CloudEvent: counted under the topic "unknown", and taken all the same. */
	@ExceptionHandler({ HttpMessageNotReadableException.class, HttpMediaTypeNotSupportedException.class })
	EventAnswer unreadable() {
		return this.greetings.deadLetter(new CloudEvent<>());
	}

}
