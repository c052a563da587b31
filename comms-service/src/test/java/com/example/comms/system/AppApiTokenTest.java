package com.example.comms.system;

import java.util.Map;
import java.util.UUID;

import com.example.comms.CommsApplication;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.env.SystemEnvironmentPropertySource;
import org.springframework.web.context.support.StandardServletEnvironment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatException;

/** comms starts only with the token its Dapr sidecar sends with each event, taken from APP_API_TOKEN. */
class AppApiTokenTest {

	@Test
	void readsTheTokenFromTheEnvironmentVariableDaprUses() {
		String token = UUID.randomUUID().toString();

		try (ConfigurableApplicationContext comms = start(Map.of("APP_API_TOKEN", token))) {
			assertThat(comms.getBean(AppApiToken.class).token()).isEqualTo(token);
			assertThat(comms.getBean(AppApiToken.class).toString()).doesNotContain(token);
		}
	}

	@ParameterizedTest
	@ValueSource(strings = { "", "   " })
	void refusesToStartWithAnEmptyToken(String token) {
		assertThatException().isThrownBy(() -> start(Map.of("APP_API_TOKEN", token)).close())
			.withStackTraceContaining("APP_API_TOKEN");
	}

	@Test
	void refusesToStartWithoutAToken() {
		assertThatException().isThrownBy(() -> start(Map.of()).close()).withStackTraceContaining("APP_API_TOKEN");
	}

	/** comms as it starts in its container, with exactly these environment variables, and no warm-up. */
	private static ConfigurableApplicationContext start(Map<String, Object> variables) {
		StandardServletEnvironment environment = new StandardServletEnvironment();
		environment.getPropertySources()
			.replace(StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME, new SystemEnvironmentPropertySource(
					StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME, variables));
		SpringApplication comms = new SpringApplication(CommsApplication.class);
		comms.setEnvironment(environment);
		return comms.run("--server.port=0", "--comms.warm-up.requests=0");
	}

}
