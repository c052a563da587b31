package com.example.greeter.greet;

public record GreetResponse(String message, String service) {

	static GreetResponse to(String name) {
		return new GreetResponse("Hello, " + name + "!", "greeter");
	}

}
