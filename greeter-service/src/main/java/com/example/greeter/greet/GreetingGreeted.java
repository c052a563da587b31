package com.example.greeter.greet;

/** The data of a greeting.greeted event: the id of the greeting comms asked for, and its message. */
record GreetingGreeted(String id, String message) {
}
