package com.example.comms.greet;

/** Asks greeter for a greeting; throws when greeter cannot answer in time. */
@FunctionalInterface
interface Greeter {

	GreeterReply greet(String name);

}
