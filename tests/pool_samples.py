"""Pool specs shared by the pool tests: a minimal pool and one using every pool feature."""

from __future__ import annotations

from typing import Any

BASE: dict[str, Any] = {
    "id": "pool-1",
    "vm_size": "standard_d2s_v3",
    "image": {"publisher": "canonical", "offer": "ubuntu-24_04-lts", "sku": "server"},
    "node_agent_sku_id": "batch.node.ubuntu 24.04",
}

FULL: dict[str, Any] = {
    **BASE,
    "enable_auto_scale": True,
    "auto_scale_formula": "$TargetLowPriorityNodes = min(10, $PendingTasks.GetSample(1));",
    "auto_scale_evaluation_interval": "PT5M",
    "task_slots_per_node": 4,
    "enable_inter_node_communication": True,
    "container_configuration": {
        "type": "docker_compatible",
        "container_image_names": ["myregistry.azurecr.io/tools/worker:1.2", "ubuntu:24.04"],
        "container_registries": [
            {"registry_server": "myregistry.azurecr.io", "username": "puller", "password": "registry-pw"}
        ],
    },
    "mount_configuration": [
        {
            "azure_blob_file_system": {
                "account_name": "inputs01",
                "container_name": "data",
                "sas_key": "sv=2024&sig=abc",
                "relative_mount_path": "data",
            }
        },
        {"nfs": {"source": "10.0.0.4:/export", "relative_mount_path": "nfs"}},
        {"cifs": {"source": "//srv/share", "username": "u", "password": "cifs-pw", "relative_mount_path": "smb"}},
        {
            "azure_file_share": {
                "account_name": "files01",
                "azure_file_url": "https://files01.file.core.windows.net/share",
                "account_key": "file-key",
                "relative_mount_path": "files",
            }
        },
    ],
    "network_configuration": {
        "subnet_id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/batch",
        "public_ip_address_configuration": {"provision": "NoPublicIPAddresses"},
        "inbound_nat_pools": [
            {
                "name": "ssh",
                "protocol": "tcp",
                "backend_port": 22,
                "frontend_port_range_start": 1000,
                "frontend_port_range_end": 1099,
                "network_security_group_rules": [
                    {"priority": 150, "access": "allow", "source_address_prefix": "10.0.0.0/8"}
                ],
            }
        ],
    },
    "user_accounts": [
        {"name": "runner", "password": "user-pw", "elevation_level": "admin",
         "linux_user_configuration": {"uid": 1001, "gid": 1001}},
    ],
    "application_package_references": [{"application_id": "blender", "version": "4.1"}],
    "node_placement": {"policy": "zonal"},
    "os_disk": {"ephemeral_os_disk_placement": "cachedisk", "caching": "readonly", "disk_size_gb": 64},
    "data_disks": [{"lun": 0, "disk_size_gb": 128, "caching": "readwrite", "storage_account_type": "premium_lrs"}],
    "disk_encryption": {"targets": ["osdisk", "temporarydisk"]},
    "upgrade_policy": {"mode": "automatic", "enable_automatic_os_upgrade": True},
    "metadata": {"team": "render"},
}  # fmt: skip
