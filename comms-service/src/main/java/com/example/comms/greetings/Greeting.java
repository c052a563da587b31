package com.example.comms.greetings;

import java.time.Instant;
import java.util.UUID;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * A greeting as comms stores it, under its id; {@code message} and {@code doneAt} once done. The times
 * are ISO-8601 text: the Dapr SDK writes state with its own Jackson 2 mapper, which knows no java.time.
 */
record Greeting(String id, String name, Status status, String createdAt, String message, String doneAt) {

	enum Status {

		@JsonProperty("pending") PENDING,

		@JsonProperty("done") DONE,

		@JsonProperty("failed") FAILED

	}

	static Greeting pending(UUID id, String name, Instant now) {
		return new Greeting(id.toString(), name, Status.PENDING, now.toString(), null, null);
	}

	Greeting done(String message, Instant now) {
		return new Greeting(this.id, this.name, Status.DONE, this.createdAt, message, now.toString());
	}

	Greeting failed() {
		return new Greeting(this.id, this.name, Status.FAILED, this.createdAt, null, null);
	}

}
