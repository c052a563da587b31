package com.example.greeter.greet;

import jakarta.validation.constraints.NotNull;
import org.hibernate.validator.constraints.UUID;

/** The data of a greeting.requested event, as comms publishes it: {@code {"id": "<uuid>", "name": "Ada"}}. */
record GreetingRequested(@NotNull(message = "is required") @UUID String id, String name) {

	/** The name as {@code POST /greet} takes it: trimmed, and checked by the same rules. */
	GreetRequest request() {
		return new GreetRequest(this.name);
	}

}
