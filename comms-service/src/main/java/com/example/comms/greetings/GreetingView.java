package com.example.comms.greetings;

import com.fasterxml.jackson.annotation.JsonInclude;

/** What comms answers about a greeting: never its name, and greeter's message only once it is done. */
record GreetingView(String id, Greeting.Status status, @JsonInclude(JsonInclude.Include.NON_NULL) String message) {

	static GreetingView of(Greeting greeting) {
		return new GreetingView(greeting.id(), greeting.status(),
				(greeting.status() == Greeting.Status.DONE) ? greeting.message() : null);
	}

}
