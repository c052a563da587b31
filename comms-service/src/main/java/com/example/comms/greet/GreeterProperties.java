package com.example.comms.greet;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * Where greeter is, as Dapr knows it, and how long comms waits for it before answering the fallback.
 * The values are in application.yaml only, where the manifests' tests and the end-to-end tests read them.
 *
 * @param appId Dapr app id of greeter (env {@code COMMS_GREETER_APPID})
 * @param method method to invoke on greeter
 * @param timeout bound on the whole call through both sidecars (env {@code COMMS_GREETER_TIMEOUT})
 */
@ConfigurationProperties("comms.greeter")
public record GreeterProperties(String appId, String method, Duration timeout) {
}
