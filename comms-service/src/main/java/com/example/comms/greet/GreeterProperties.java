package com.example.comms.greet;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * Where greeter is, as Dapr knows it, and how long comms waits for it before answering the fallback.
 *
 * @param appId Dapr app id of greeter (env {@code COMMS_GREETER_APPID})
 * @param method method to invoke on greeter
 * @param timeout bound on the whole call through both sidecars (env {@code COMMS_GREETER_TIMEOUT})
 */
@ConfigurationProperties("comms.greeter")
public record GreeterProperties(@DefaultValue("greeter") String appId, @DefaultValue("greet") String method,
		@DefaultValue("2s") Duration timeout) {
}
