package com.example.greeter.greet;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * The pub/sub component and topic greeter publishes greetings on, and how long it waits for its sidecar to
 * take one: past that the event is answered 503 and daprd redelivers it. Defaults in application.yaml.
 */
@ConfigurationProperties("greeter.events")
record GreetingEvents(String pubsub, String greetedTopic, Duration publishTimeout) {
}
