package com.example.comms;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;

@SpringBootApplication
@ConfigurationPropertiesScan
public class CommsApplication {

	public static void main(String[] args) {
		SpringApplication.run(CommsApplication.class, args);
	}

}
