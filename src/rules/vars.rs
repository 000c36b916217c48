//! Rule variables (`$HOME_NET`, `$HTTP_PORTS`, ...).
//!
//! Addresses and ports are separate namespaces, as in suricata.yaml's
//! `address-groups` and `port-groups`. Values are stored as written and
//! expanded when a rule is parsed, so changing `HOME_NET` also changes
//! `EXTERNAL_NET` (which is `!$HOME_NET`).

use std::collections::HashMap;

use super::header::{AddrSpec, PortSpec};

#[derive(Debug, Clone)]
pub struct Vars {
    addresses: HashMap<String, String>,
    ports: HashMap<String, String>,
}

/// The address groups of Suricata's stock suricata.yaml.
const DEFAULT_ADDRESSES: &[(&str, &str)] = &[
    ("HOME_NET", "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]"),
    ("EXTERNAL_NET", "!$HOME_NET"),
    ("HTTP_SERVERS", "$HOME_NET"),
    ("SMTP_SERVERS", "$HOME_NET"),
    ("SQL_SERVERS", "$HOME_NET"),
    ("DNS_SERVERS", "$HOME_NET"),
    ("TELNET_SERVERS", "$HOME_NET"),
    // suricata.yaml has always set this one to the outside world.
    ("AIM_SERVERS", "$EXTERNAL_NET"),
    ("DC_SERVERS", "$HOME_NET"),
    ("DNP3_SERVER", "$HOME_NET"),
    ("DNP3_CLIENT", "$HOME_NET"),
    ("MODBUS_CLIENT", "$HOME_NET"),
    ("MODBUS_SERVER", "$HOME_NET"),
    ("ENIP_CLIENT", "$HOME_NET"),
    ("ENIP_SERVER", "$HOME_NET"),
];

/// The port groups of Suricata's stock suricata.yaml.
const DEFAULT_PORTS: &[(&str, &str)] = &[
    ("HTTP_PORTS", "80"),
    ("SHELLCODE_PORTS", "!80"),
    ("ORACLE_PORTS", "1521"),
    ("SSH_PORTS", "22"),
    ("DNP3_PORTS", "20000"),
    ("MODBUS_PORTS", "502"),
    ("FILE_DATA_PORTS", "[$HTTP_PORTS,110,143]"),
    ("FTP_PORTS", "21"),
    ("GENEVE_PORTS", "6081"),
    ("VXLAN_PORTS", "4789"),
    ("TEREDO_PORTS", "3544"),
];

impl Default for Vars {
    fn default() -> Self {
        let own = |t: &[(&str, &str)]| {
            t.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>()
        };
        Vars {
            addresses: own(DEFAULT_ADDRESSES),
            ports: own(DEFAULT_PORTS),
        }
    }
}

impl Vars {
    /// Sets a variable (with or without the leading `$`). A name that is
    /// already a port variable, or ends in `_PORTS`/`_PORT`, is a port
    /// variable; anything else is an address variable. The value is
    /// checked by expanding it, so a bad value or a reference to an
    /// unknown variable is refused and the old value kept.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let name = name.trim().trim_start_matches('$');
        let is_port =
            self.ports.contains_key(name) || name.ends_with("_PORTS") || name.ends_with("_PORT");
        if is_port {
            self.set_port(name, value)
        } else {
            self.set_address(name, value)
        }
    }

    pub fn set_address(&mut self, name: &str, value: &str) -> Result<(), String> {
        let name = checked_name(name)?;
        let mut next = self.clone();
        next.addresses.insert(name.to_string(), value.to_string());
        AddrSpec::parse(value, &next).map_err(|e| format!("${name}: {e}"))?;
        // Variables that refer to this one must still expand.
        next.check_all()?;
        *self = next;
        Ok(())
    }

    pub fn set_port(&mut self, name: &str, value: &str) -> Result<(), String> {
        let name = checked_name(name)?;
        let mut next = self.clone();
        next.ports.insert(name.to_string(), value.to_string());
        PortSpec::parse(value, &next).map_err(|e| format!("${name}: {e}"))?;
        next.check_all()?;
        *self = next;
        Ok(())
    }

    pub fn address(&self, name: &str) -> Option<&str> {
        self.addresses.get(name).map(String::as_str)
    }

    pub fn port(&self, name: &str) -> Option<&str> {
        self.ports.get(name).map(String::as_str)
    }

    fn check_all(&self) -> Result<(), String> {
        for (k, v) in &self.addresses {
            AddrSpec::parse(v, self).map_err(|e| format!("${k}: {e}"))?;
        }
        for (k, v) in &self.ports {
            PortSpec::parse(v, self).map_err(|e| format!("${k}: {e}"))?;
        }
        Ok(())
    }
}

fn checked_name(name: &str) -> Result<&str, String> {
    let name = name.trim().trim_start_matches('$');
    let ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(name)
    } else {
        Err(format!("bad variable name '{name}'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_expand() {
        let v = Vars::default();
        v.check_all().unwrap();
    }

    #[test]
    fn set_validates_and_keeps_old_value() {
        let mut v = Vars::default();
        v.set("$HOME_NET", "[10.1.0.0/16]").unwrap();
        let ext = AddrSpec::parse("$EXTERNAL_NET", &v).unwrap();
        assert!(ext.matches("10.2.0.1".parse().unwrap()));
        assert!(v.set("HOME_NET", "[10.1.0.0/16").is_err());
        assert_eq!(v.address("HOME_NET"), Some("[10.1.0.0/16]"));
        // EXTERNAL_NET would refer to itself.
        assert!(v.set("HOME_NET", "$EXTERNAL_NET").is_err());
        v.set("HTTP_PORTS", "[80,8080]").unwrap();
        assert!(v.set("HTTP_PORTS", "http").is_err());
        v.set("MY_PORTS", "1:10").unwrap();
        assert!(v.set("bad name", "1").is_err());
    }
}
