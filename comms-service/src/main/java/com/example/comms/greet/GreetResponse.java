package com.example.comms.greet;

import com.fasterxml.jackson.annotation.JsonInclude;

/** What comms answers: greeter's greeting, or its own fallback when greeter could not answer. */
public record GreetResponse(String message, String service, boolean fallback,
		@JsonInclude(JsonInclude.Include.NON_NULL) String error) {

	static final String GREETER_UNAVAILABLE = "greeter_unavailable";

	static GreetResponse fromGreeter(GreeterReply reply) {
		return new GreetResponse(reply.message(), reply.service(), false, null);
	}

	static GreetResponse fallback(String name) {
		return new GreetResponse("Hello, " + name + " (from fallback)!", "comms", true, GREETER_UNAVAILABLE);
	}

}
