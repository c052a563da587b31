package com.example.comms.greetings;

/** The data of a {@code greeting.greeted} event: greeter's message for the greeting with this id. */
record Greeted(String id, String message) {
}
