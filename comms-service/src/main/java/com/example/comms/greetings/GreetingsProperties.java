package com.example.comms.greetings;

import java.time.Duration;

import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.NotNull;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.validation.annotation.Validated;

/**
 * The Dapr components the asynchronous greetings go through, by name, and how long comms waits for
 * its sidecar. comms names components only, never a broker or a database: the components say which.
 *
 * @param pubsub pub/sub component greeter's answers come through (env {@code COMMS_GREETINGS_PUBSUB}); the
 * subscriptions' {@code @Topic} reads it, bound here so that a blank one stops the start
 * @param stateStore state store of the greetings, whose outbox publishes {@code greeting.requested} (env
 * {@code COMMS_GREETINGS_STATESTORE})
 * @param receipts output binding the receipts are written to (env {@code COMMS_GREETINGS_RECEIPTS})
 * @param timeout bound on each call to the sidecar, past which comms answers 503 (env
 * {@code COMMS_GREETINGS_TIMEOUT})
 * @param sendAgainAfter how long a greeting stays pending before a request about it sends its event again
 * (env {@code COMMS_GREETINGS_SENDAGAINAFTER})
 */
@ConfigurationProperties("comms.greetings")
@Validated
public record GreetingsProperties(@NotBlank String pubsub, @NotBlank String stateStore, @NotBlank String receipts,
		@NotNull Duration timeout, @NotNull Duration sendAgainAfter) {
}
