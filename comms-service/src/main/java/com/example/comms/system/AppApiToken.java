package com.example.comms.system;

import jakarta.validation.constraints.NotBlank;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.validation.annotation.Validated;

/**
 * The token comms' Dapr sidecar sends in the {@code dapr-api-token} header when it delivers an event:
 * the environment variable {@code APP_API_TOKEN}, the one daprd reads, so one Secret feeds both.
 * Without it comms does not start.
 */
@ConfigurationProperties("app.api")
@Validated
public record AppApiToken(
		// Only @NotBlank: a failed check echoes the rejected value, which must never be a real token.
		@NotBlank(message = "must be set: the environment variable APP_API_TOKEN, the token Dapr's sidecar sends in dapr-api-token") String token) {

	@Override
	public String toString() {
		return "AppApiToken[token=******]";
	}

}
