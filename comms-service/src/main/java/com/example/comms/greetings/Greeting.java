package com.example.comms.greetings;

import java.time.Instant;
import java.util.UUID;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * A greeting as comms stores it, under its id; {@code message} and {@code doneAt} once done; {@code sentAt}
 * when its event was last sent, if not at {@code createdAt}. The times are ISO-8601 text: the Dapr SDK
 * writes state with its own Jackson 2 mapper, which knows no java.time.
 */
record Greeting(String id, String name, Status status, String createdAt, String message, String doneAt,
		String sentAt) {

	enum Status {

		@JsonProperty("pending") PENDING,

		@JsonProperty("done") DONE,

		@JsonProperty("failed") FAILED

	}

	static Greeting pending(UUID id, String name, Instant now) {
		return new Greeting(id.toString(), name, Status.PENDING, now.toString(), null, null, null);
	}

	Greeting done(String message, Instant now) {
		return new Greeting(this.id, this.name, Status.DONE, this.createdAt, message, now.toString(), this.sentAt);
	}

	Greeting failed() {
		return new Greeting(this.id, this.name, Status.FAILED, this.createdAt, null, null, this.sentAt);
	}

	Greeting sentAgain(Instant now) {
		return new Greeting(this.id, this.name, this.status, this.createdAt, null, null, now.toString());
	}

	/** When its event was last sent. */
	Instant lastSent() {
		return Instant.parse((this.sentAt != null) ? this.sentAt : this.createdAt);
	}

}
