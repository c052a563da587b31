package com.example.comms.greetings;

import java.net.URI;
import java.util.UUID;
import java.util.regex.Pattern;

import com.example.comms.greet.GreetRequest;
import jakarta.validation.Valid;

import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ResponseStatusException;

@RestController
class GreetingsController {

	private static final Pattern IDEMPOTENCY_KEY = Pattern.compile("[\\x21-\\x7E]{1,128}");

	private final Greetings greetings;

	GreetingsController(Greetings greetings) {
		this.greetings = greetings;
	}

	/**
	 * 202 and where to poll (RFC 9110 §15.3.3): greeter answers later, through the pub/sub. Bad input is
	 * rejected here, as by POST /greet, and so is neither stored nor published.
	 */
	@PostMapping(path = "/greetings", consumes = MediaType.APPLICATION_JSON_VALUE,
			produces = MediaType.APPLICATION_JSON_VALUE)
	ResponseEntity<GreetingView> request(@Valid @RequestBody GreetRequest request,
			@RequestHeader(name = "Idempotency-Key", required = false) String idempotencyKey) {
		if (idempotencyKey != null && !IDEMPOTENCY_KEY.matcher(idempotencyKey).matches()) {
			throw new ResponseStatusException(HttpStatus.BAD_REQUEST,
					"Idempotency-Key must be 1 to 128 visible ASCII characters");
		}
		GreetingView greeting = this.greetings.request(request.name(), idempotencyKey);
		return ResponseEntity.accepted().location(URI.create("/greetings/" + greeting.id())).body(greeting);
	}

	@GetMapping(path = "/greetings/{id}", produces = MediaType.APPLICATION_JSON_VALUE)
	GreetingView find(@PathVariable UUID id) {
		return this.greetings.find(id)
			.orElseThrow(() -> new ResponseStatusException(HttpStatus.NOT_FOUND, "No greeting has this id"));
	}

}
