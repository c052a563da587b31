package com.example.comms.greet;

import jakarta.validation.Valid;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;

@RestController
class GreetController {

	private final GreetingService greetings;

	GreetController(GreetingService greetings) {
		this.greetings = greetings;
	}

	/** Bad input is rejected here, by validation, and so never reaches greeter. */
	@PostMapping(path = "/greet", consumes = MediaType.APPLICATION_JSON_VALUE,
			produces = MediaType.APPLICATION_JSON_VALUE)
	GreetResponse greet(@Valid @RequestBody GreetRequest request) {
		return this.greetings.greet(request.name());
	}

}
