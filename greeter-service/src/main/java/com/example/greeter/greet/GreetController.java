package com.example.greeter.greet;

import jakarta.validation.Valid;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;

/** The method the greeter's Dapr sidecar invokes as {@code greet}. */
@RestController
class GreetController {

	@PostMapping(path = "/greet", consumes = MediaType.APPLICATION_JSON_VALUE,
			produces = MediaType.APPLICATION_JSON_VALUE)
	GreetResponse greet(@Valid @RequestBody GreetRequest request) {
		return GreetResponse.to(request.name());
	}

}
