package com.example.comms.greet;

import java.time.Duration;

import jakarta.validation.constraints.Positive;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.validation.annotation.Validated;

/**
 * Where greeter is, as Dapr knows it, and how long comms waits for it before answering the fallback.
 * The values are in application.yaml only, where the manifests' tests and the end-to-end tests read them.
 *
 * @param appId Dapr app id of greeter (env {@code COMMS_GREETER_APPID})
 * @param method method to invoke on greeter
 * @param timeout bound on connecting to the sidecar and on waiting for greeter's answer (env
 * {@code COMMS_GREETER_TIMEOUT})
 * @param maxConcurrentCalls requests served at once, past which comms answers 503 (env
 * {@code COMMS_GREETER_MAXCONCURRENTCALLS}); GreetingService's limit reads it, bound here so that a
 * bad value stops the start rather than the first request
 */
@ConfigurationProperties("comms.greeter")
@Validated
public record GreeterProperties(String appId, String method, Duration timeout, @Positive int maxConcurrentCalls) {
}
