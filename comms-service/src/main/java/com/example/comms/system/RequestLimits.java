package com.example.comms.system;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;

/** Limits on what a caller may send. */
@ConfigurationProperties("app.request")
public record RequestLimits(@DefaultValue("8KB") DataSize maxBody) {
}
