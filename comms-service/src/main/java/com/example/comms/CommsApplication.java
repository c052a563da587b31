package com.example.comms;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;
import org.springframework.boot.webmvc.autoconfigure.error.ErrorMvcAutoConfiguration;
import org.springframework.resilience.annotation.EnableResilientMethods;

// No /error page: errors outside Spring MVC are left to Tomcat's error report valve, which answers problem bodies.
@SpringBootApplication(exclude = ErrorMvcAutoConfiguration.class)
@ConfigurationPropertiesScan
@EnableResilientMethods
public class CommsApplication {

	public static void main(String[] args) {
		SpringApplication.run(CommsApplication.class, args);
	}

}
