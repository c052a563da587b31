package com.example.comms.greet;

/** greeter's answer to {@code POST /greet}. */
public record GreeterReply(String message, String service) {
}
