//! `classification.config`: classtype name -> description and priority.
//!
//! Each line reads `config classification: name,description,priority`.
//! Suricata refuses a rule whose classtype is not in the table, and so
//! do we; the built-in table is a small subset for when no file is given.

use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Class {
    pub name: String,
    pub description: String,
    pub priority: u8,
}

#[derive(Debug, Clone)]
pub struct Classifications {
    by_name: HashMap<String, Class>,
}

const BUILT_IN: &str = "\
config classification: not-suspicious,Not Suspicious Traffic,3
config classification: unknown,Unknown Traffic,3
config classification: bad-unknown,Potentially Bad Traffic,2
config classification: attempted-recon,Attempted Information Leak,2
config classification: successful-recon-limited,Information Leak,2
config classification: attempted-dos,Attempted Denial of Service,2
config classification: successful-dos,Denial of Service,2
config classification: attempted-user,Attempted User Privilege Gain,1
config classification: successful-user,Successful User Privilege Gain,1
config classification: attempted-admin,Attempted Administrator Privilege Gain,1
config classification: successful-admin,Successful Administrator Privilege Gain,1
config classification: trojan-activity,A Network Trojan was detected,1
config classification: web-application-attack,Web Application Attack,1
config classification: web-application-activity,Access to a potentially vulnerable web application,2
config classification: misc-activity,Misc activity,3
config classification: misc-attack,Misc Attack,2
config classification: network-scan,Detection of a Network Scan,3
config classification: protocol-command-decode,Generic Protocol Command Decode,3
config classification: policy-violation,Potential Corporate Privacy Violation,1
config classification: shellcode-detect,Executable code was detected,1
config classification: denial-of-service,Detection of a Denial of Service Attack,2
config classification: default-login-attempt,Attempt to login by a default username and password,2
config classification: exploit-kit,Exploit Kit Activity Detected,1
config classification: command-and-control,Malware Command and Control Activity Detected,1
";

impl Default for Classifications {
    fn default() -> Self {
        // The built-in text is ours and well formed.
        Classifications::parse(BUILT_IN).unwrap_or(Classifications {
            by_name: HashMap::new(),
        })
    }
}

impl Classifications {
    /// Reads a classification.config file.
    pub fn load(path: &Path) -> Result<Classifications, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Classifications::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses classification.config text; the error names the line.
    pub fn parse(text: &str) -> Result<Classifications, String> {
        let mut by_name = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let body = line
                .strip_prefix("config classification:")
                .ok_or_else(|| format!("line {}: expected 'config classification:'", i + 1))?;
            let mut fields = body.splitn(3, ',').map(str::trim);
            let (Some(name), Some(desc), Some(prio)) =
                (fields.next(), fields.next(), fields.next())
            else {
                return Err(format!(
                    "line {}: expected name,description,priority",
                    i + 1
                ));
            };
            let priority = prio
                .parse::<u8>()
                .map_err(|_| format!("line {}: bad priority '{prio}'", i + 1))?;
            if name.is_empty() {
                return Err(format!("line {}: empty classtype name", i + 1));
            }
            let class = Class {
                name: name.to_ascii_lowercase(),
                description: desc.to_string(),
                priority,
            };
            by_name.insert(class.name.clone(), class);
        }
        Ok(Classifications { by_name })
    }

    pub fn get(&self, name: &str) -> Option<&Class> {
        self.by_name.get(&name.to_ascii_lowercase())
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_and_parse() {
        let c = Classifications::default();
        assert_eq!(c.get("attempted-admin").unwrap().priority, 1);
        let c = Classifications::parse(
            "# c\n\nconfig classification: bad-unknown,Potentially Bad Traffic, 2\n",
        )
        .unwrap();
        assert_eq!(c.get("Bad-Unknown").unwrap().priority, 2);
        assert!(Classifications::parse("config classification: x,y\n").is_err());
        assert!(Classifications::parse("config classification: x,y,z\n").is_err());
        assert!(Classifications::parse("classification x,y,1\n").is_err());
    }

    #[test]
    fn loads_et_open_file() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/corpus/et-open-2020/classification.config");
        if !path.exists() {
            println!("skipped: {} is absent", path.display());
            return;
        }
        let c = Classifications::load(&path).unwrap();
        assert!(c.len() > 30);
        assert_eq!(
            c.get("trojan-activity").unwrap().description,
            "A Network Trojan was detected"
        );
    }
}
