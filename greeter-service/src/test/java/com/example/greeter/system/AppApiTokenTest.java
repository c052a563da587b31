package com.example.greeter.system;

import java.util.Map;
import java.util.UUID;

import com.example.greeter.GreeterApplication;
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

/** greeter starts only with the token its Dapr sidecar sends, taken from APP_API_TOKEN. */
class AppApiTokenTest {

	@Test
	void readsTheTokenFromTheEnvironmentVariableDaprUses() {
		String token = UUID.randomUUID().toString();

		try (ConfigurableApplicationContext greeter = start(Map.of("APP_API_TOKEN", token))) {
			assertThat(greeter.getBean(AppApiToken.class).token()).isEqualTo(token);
			assertThat(greeter.getBean(AppApiToken.class).toString()).doesNotContain(token);
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

	/** greeter as it starts in its container, with exactly these environment variables. */
	private static ConfigurableApplicationContext start(Map<String, Object> variables) {
		StandardServletEnvironment environment = new StandardServletEnvironment();
		environment.getPropertySources()
			.replace(StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME, new SystemEnvironmentPropertySource(
					StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME, variables));
		SpringApplication greeter = new SpringApplication(GreeterApplication.class);
		greeter.setEnvironment(environment);
		return greeter.run("--server.port=0");
	}

}
