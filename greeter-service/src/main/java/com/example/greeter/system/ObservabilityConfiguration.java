package com.example.greeter.system;

import io.micrometer.observation.ObservationPredicate;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.server.observation.OpenTelemetryServerRequestObservationConvention;
import org.springframework.http.server.observation.ServerRequestObservationContext;

@Configuration(proxyBeanMethods = false)
class ObservabilityConfiguration {

	/**
	 * Probes are not traffic: kubelet and Dapr's app health check call /actuator/health/* and
	 * /health every few seconds, which would be a trace each; nor are the sidecar's start-up
	 * queries (/dapr/config, /dapr/subscribe), nor the warm-up's requests. They are neither traced nor timed.
	 */
	@Bean
	ObservationPredicate noHealthCheckObservations(WarmUp warmUp) {
		return (name, context) -> !(context instanceof ServerRequestObservationContext request)
				|| !(warmUp.isWarming() || isHealthCheck(request.getCarrier().getRequestURI()));
	}

	/**
	 * Requests are observed with OpenTelemetry's HTTP semantic conventions (span "POST /greet" with
	 * http.request.method and http.route; timer http.server.request.duration), which Datadog reads to name
	 * the span's operation http.server.request and its resource "POST /greet".
	 */
	@Bean
	OpenTelemetryServerRequestObservationConvention openTelemetryServerRequestObservationConvention() {
		return new OpenTelemetryServerRequestObservationConvention();
	}

	private static boolean isHealthCheck(String path) {
		return path.equals("/health") || path.startsWith("/actuator/") || path.startsWith("/dapr/");
	}

}
